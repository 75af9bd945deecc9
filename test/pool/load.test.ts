// The point of the pool: a server with max_connections 100 refuses its 98th client, while 1000
// clients connected through PgBouncer at the same time all get their queries answered, over at
// most default_pool_size (20) server connections.
import { execa } from 'execa';
import pg from 'pg';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { poolFacts } from '../../lib/host/database-facts.js';
import { type Sandbox, sleep, withSandbox } from '../image/sandbox.js';
import { skipUnless } from '../support/skip.js';
import { poolMissing, startPool } from './pool.js';

const CLIENTS = 1000;
const BUDGET_MS = 60_000;
const test = skipUnless(suite('pool: load'), poolMissing(), 'PgBouncer in front of PostgreSQL 15');

/** Each client, PgBouncer and the server hold a descriptor per connection; children inherit ours. */
async function ensureFileLimit(minimum: number): Promise<void> {
  const soft = Number((await execa('bash', ['-c', 'ulimit -Sn'])).stdout);
  if (soft >= minimum) return;
  await execa('prlimit', [`--pid=${process.pid}`, `--nofile=${minimum}:${minimum}`]);
}

/** The most connections the role had on the server at once, sampled until `done` settles. */
async function peakServerConnections(box: Sandbox, done: Promise<unknown>): Promise<number> {
  let finished = false;
  void done.finally(() => (finished = true)).catch(() => undefined);
  let peak = 0;
  while (!finished) {
    const count = Number(await box.superuser("SELECT count(*) FROM pg_stat_activity WHERE usename = 'poststack'"));
    peak = Math.max(peak, count);
    await sleep(20);
  }
  return peak;
}

async function settle<T>(tasks: Array<Promise<T>>): Promise<{ ok: T[]; errors: string[] }> {
  const results = await Promise.allSettled(tasks);
  const ok: T[] = [];
  const errors: string[] = [];
  for (const result of results) {
    if (result.status === 'fulfilled') ok.push(result.value);
    else errors.push((result.reason as { code?: string }).code ?? String(result.reason));
  }
  return { ok, errors };
}

test(`${CLIENTS} clients at once through the pool all succeed against max_connections 100, in bounded time`, async () => {
  await ensureFileLimit(4 * CLIENTS);
  await withSandbox(async (box) => {
    await box.startReady();
    assert.is(await box.superuser('SHOW max_connections'), '100');

    const direct = await settle(Array.from({ length: 150 }, () => box.connect({ connectionTimeoutMillis: 30_000 })));
    await Promise.all(direct.ok.map((client) => client.end()));
    assert.ok(direct.errors.length > 0 && direct.errors.every((code) => code === '53300'), `direct: ${direct.ok.length} connected, errors ${[...new Set(direct.errors)]}`);

    const pool = await startPool(box);
    const started = Date.now();
    const connected = await settle(Array.from({ length: CLIENTS }, () => box.connect({ port: pool.port, connectionTimeoutMillis: BUDGET_MS })));
    const connectMs = Date.now() - started;
    const clients: pg.Client[] = connected.ok;
    try {
      assert.equal(connected.errors, [], 'every client connected');
      const work = settle(clients.map(async (client, i) => {
        const { rows } = await client.query<{ i: number }>('SELECT $1::int AS i', [i]);
        await client.query('BEGIN');
        await client.query('SELECT pg_sleep(0.005)');
        await client.query('COMMIT');
        return rows[0]?.i;
      }));
      const peak = await peakServerConnections(box, work);
      const { ok, errors } = await work;
      const elapsed = Date.now() - started;
      assert.equal(errors, [], 'every client got its answers');
      assert.equal(ok, clients.map((_, i) => i));
      assert.ok(peak >= 1 && peak <= 20, `the server saw at most default_pool_size connections (${peak})`);
      assert.ok(elapsed < BUDGET_MS, `${CLIENTS} clients connected in ${connectMs} ms and finished in ${elapsed} ms`);
      console.log(`  ${CLIENTS} clients: connected in ${connectMs} ms, all done in ${elapsed} ms, at most ${peak} server connections`);
    } finally {
      await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
    }
    const facts = await poolFacts({ host: '127.0.0.1', port: pool.port, user: 'poststack', password: box.password });
    assert.is(facts.clientsWaiting, 0);
    assert.ok(facts.serversActive + facts.serversIdle <= 20);
    await box.stop(pool.server, 'SIGINT');
  });
});

test.run();
