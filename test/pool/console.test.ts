// PgBouncer's admin console for the application's role: SHOW POOLS, and the figures `status`
// reads from it through poolFacts(), with clients holding and waiting for server connections.
// Statistics only: the commands that change the pool are refused.
import type pg from 'pg';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { poolFacts, type PoolFacts } from '../../lib/host/database-facts.js';
import { sleep, withSandbox } from '../image/sandbox.js';
import { skipUnless } from '../support/skip.js';
import { poolMissing, queryError, startPool } from './pool.js';

const test = skipUnless(suite('pool: admin console'), poolMissing(), 'PgBouncer in front of PostgreSQL 15');

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('SHOW POOLS works for the role, and poolFacts() counts active, waiting and idle connections', async () => {
  await withSandbox(async (box) => {
    await box.startReady();
    const pool = await startPool(box, { POOL_DEFAULT_POOL_SIZE: '2' });
    const console = { host: '127.0.0.1', port: pool.port, user: 'poststack', password: box.password };
    const facts = (): Promise<PoolFacts> => poolFacts(console);

    const clients: pg.Client[] = await Promise.all([1, 2, 3].map(() => box.connect({ port: pool.port })));
    const [first, second, third] = clients as [pg.Client, pg.Client, pg.Client];
    try {
      for (const holder of [first, second]) {
        await holder.query('BEGIN');
        await holder.query('SELECT 1');
      }
      const waiting = third.query('SELECT 1 AS done');
      await until('the third client to wait', async () => (await facts()).clientsWaiting === 1);
      await sleep(1100);
      // The console's own connection is an active client of the "pgbouncer" pool.
      assert.equal(await facts(), { clientsActive: 3, clientsWaiting: 1, serversActive: 2, serversIdle: 0, maxWaitSeconds: 1 });

      const rows = await box.query('SHOW POOLS', [], { port: pool.port, database: 'pgbouncer' });
      assert.ok(rows.some((row) => row.database === 'poststack' && row.user === 'poststack' && row.pool_mode === 'transaction'), JSON.stringify(rows));

      await first.query('COMMIT');
      assert.is((await waiting).rows[0].done, 1, 'the waiting client got the released connection');
      await second.query('COMMIT');
      assert.equal(await facts(), { clientsActive: 4, clientsWaiting: 0, serversActive: 0, serversIdle: 2, maxWaitSeconds: 0 });
    } finally {
      await Promise.all(clients.map((client) => client.end()));
    }
    await box.stop(pool.server, 'SIGINT');
  });
});

test('the console is statistics only, and only with the password', async () => {
  await withSandbox(async (box) => {
    await box.startReady();
    const pool = await startPool(box);
    const admin = await box.connect({ port: pool.port, database: 'pgbouncer' });
    try {
      assert.is(await queryError(admin, 'SHOW STATS'), 'ok');
      for (const command of ['PAUSE', 'RELOAD', 'SHUTDOWN', 'KILL poststack']) {
        assert.is.not(await queryError(admin, command), 'ok', `${command} is refused`);
      }
    } finally {
      await admin.end();
    }
    const wrong = await box.connect({ port: pool.port, database: 'pgbouncer', password: 'wrong' }).then(() => 'connected', (e) => e.code);
    assert.is(wrong, '08P01');
    await box.stop(pool.server, 'SIGINT');
  });
});

test.run();
