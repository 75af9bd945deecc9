// What transaction pooling means for a client, shown with two server connections (pool size 2):
// a transaction is a client's own, anything that outlives one belongs to a server connection
// that the next transaction, of any client, may get. PgBouncer reuses the connection released
// last first, which makes each case below deterministic.
import type pg from 'pg';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Sandbox } from '../image/sandbox.js';
import { skipUnless } from '../support/skip.js';
import { type Pool, poolMissing, queryError, startPool } from './pool.js';

const test = skipUnless(suite('pool: transaction mode'), poolMissing(), 'PgBouncer in front of PostgreSQL 15');

// One PostgreSQL for the file; every test gets a fresh pool, so no server connection carries
// state from one test into the next.
let shared: Promise<Sandbox> | undefined;
function database(): Promise<Sandbox> {
  shared ??= Sandbox.create().then(async (box) => {
    await box.startReady();
    return box;
  });
  return shared;
}

test.after(async () => {
  if (shared) await (await shared).cleanup();
});

async function withPool(env: Record<string, string>, body: (a: pg.Client, b: pg.Client, pool: Pool) => Promise<void>): Promise<void> {
  const box = await database();
  const pool = await startPool(box, { POOL_DEFAULT_POOL_SIZE: '2', ...env });
  const [a, b] = await Promise.all([box.connect({ port: pool.port }), box.connect({ port: pool.port })]);
  try {
    await body(a as pg.Client, b as pg.Client, pool);
  } finally {
    await Promise.all([a?.end(), b?.end()]);
    await box.stop(pool.server, 'SIGTERM');
  }
}

const one = async <T extends pg.QueryResultRow>(client: pg.Client, sql: string, params: unknown[] = []): Promise<T> => {
  const { rows } = await client.query<T>(sql, params);
  return rows[0] as T;
};

/** Runs statements as one simple query, which PgBouncer treats as one transaction; returns the
 * last statement's first row. */
async function batch(client: pg.Client, sql: string): Promise<any> {
  const results = (await client.query(sql)) as unknown as pg.QueryResult[];
  return results.at(-1)?.rows[0];
}

test('SET outside a transaction stays with the server connection: the next transaction of another client gets it, the client does not', async () => {
  await withPool({}, async (a, b) => {
    const { pid } = await batch(a, "SET statement_timeout = '1234ms'; SELECT pg_backend_pid() AS pid");
    await b.query('BEGIN');
    const inB = await one(b, "SELECT pg_backend_pid() AS pid, current_setting('statement_timeout') AS timeout");
    assert.equal(inB, { pid, timeout: '1234ms' }, "b's transaction runs on the connection a changed, with a's setting");
    const inA = await one(a, "SELECT pg_backend_pid() AS pid, current_setting('statement_timeout') AS timeout");
    assert.is.not(inA.pid, pid);
    assert.is(inA.timeout, '0', "a's next transaction runs elsewhere, without its setting");
    await b.query('COMMIT');
  });
});

test('SET LOCAL inside a transaction applies to that transaction and ends with it', async () => {
  await withPool({}, async (a, b) => {
    await a.query('BEGIN');
    await a.query("SET LOCAL statement_timeout = '50ms'");
    assert.is(await queryError(a, 'SELECT pg_sleep(1)'), '57014', 'the local timeout cancels the statement');
    await a.query('ROLLBACK');

    await a.query('BEGIN');
    await a.query("SET LOCAL statement_timeout = '1234ms'");
    const { pid } = await one(a, 'SELECT pg_backend_pid() AS pid');
    assert.is((await one(a, 'SHOW statement_timeout')).statement_timeout, '1234ms');
    await a.query('COMMIT');
    assert.equal(await one(b, "SELECT pg_backend_pid() AS pid, current_setting('statement_timeout') AS timeout"), { pid, timeout: '0' },
      'the connection goes back to the pool without it');
  });
});

test('a named prepared statement exists only on the server connection that prepared it; unnamed parameters work', async () => {
  await withPool({}, async (a, b) => {
    const named = { name: 'pid', text: 'SELECT pg_backend_pid() AS pid' };
    const { rows } = await a.query(named);
    await b.query('BEGIN');
    assert.is((await one(b, 'SELECT pg_backend_pid() AS pid')).pid, rows[0].pid, 'b holds the connection that has it');
    // node-postgres prepares a name once per client, so the second run only binds it: on the
    // other server connection, which never saw it.
    assert.is(await queryError(a, named), '26000', 'prepared statement "pid" does not exist');
    assert.is((await one(a, 'SELECT $1::int + 1 AS n', [41])).n, 42, 'an unnamed statement is parsed and run in one go');
    await b.query('COMMIT');
  });
});

test('a session advisory lock stays with the server connection, where another client gets it too; a transaction lock does not', async () => {
  await withPool({}, async (a, b) => {
    const { pid } = await one(a, 'SELECT pg_advisory_lock(42), pg_backend_pid() AS pid');
    const inB = await one(b, 'SELECT pg_try_advisory_lock(42) AS got, pg_backend_pid() AS pid');
    assert.equal(inB, { got: true, pid }, "b 'takes' the lock a holds: it is the same server session");

    await a.query('BEGIN');
    await a.query('SELECT pg_advisory_xact_lock(7)');
    assert.is((await one(b, 'SELECT pg_try_advisory_xact_lock(7) AS got')).got, false, "a's transaction holds it");
    await a.query('COMMIT');
    assert.is((await one(b, 'SELECT pg_try_advisory_xact_lock(7) AS got')).got, true, 'released with the transaction');
  });
});

test('session mode (POOL_MODE=session) gives each client its own server connection for as long as it is connected', async () => {
  await withPool({ POOL_MODE: 'session' }, async (a, b) => {
    const { pid } = await batch(a, "SET statement_timeout = '1234ms'; SELECT pg_backend_pid() AS pid");
    await b.query('BEGIN');
    assert.is.not((await one(b, 'SELECT pg_backend_pid() AS pid')).pid, pid);
    assert.equal(await one(a, "SELECT pg_backend_pid() AS pid, current_setting('statement_timeout') AS timeout"), { pid, timeout: '1234ms' });
    await b.query('COMMIT');
  });
});

test.run();
