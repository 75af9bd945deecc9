// pool.sh reload, what pg-quadlet password runs in the pool container after the server took a new
// password: PgBouncer reads the role's new SCRAM secret without a restart.
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connectError, sandboxMissing, withSandbox } from '../image/sandbox.js';
import { skipUnless } from '../support/skip.js';
import { poolHealthy, poolMissing, poolScript, startPool } from './pool.js';

const test = skipUnless(suite('pool: reload after a password rotation'), sandboxMissing() ?? poolMissing(), 'PgBouncer in front of PostgreSQL 15');

const NEW_PASSWORD = 'the new one, with "quotes" and a\nline break';

test('the new password works through the pool and the old one is refused; a client already in keeps its session; the health check follows', async () => {
  await withSandbox(async (box) => {
    await box.startReady();
    const pool = await startPool(box);
    const open = await box.connect({ port: pool.port });

    const server = await box.runAsPostgres(path.join(box.paths.scripts, 'password.sh'), [], { input: NEW_PASSWORD });
    assert.is(server.exitCode, 0, String(server.all));
    const reload = await box.runAsPostgres(poolScript(box), ['reload'], { env: pool.env, input: NEW_PASSWORD });
    assert.is(reload.exitCode, 0, String(reload.all));
    assert.match(String(reload.all), /pool: PgBouncer reloaded the role's SCRAM secret/);

    assert.is(await connectError(box, { port: pool.port, password: NEW_PASSWORD }), 'connected', 'the new password through the pool');
    assert.is(await connectError(box, { port: pool.port }), '08P01', 'the old one is refused by the pool');
    assert.equal((await open.query('SELECT 2 AS still')).rows, [{ still: 2 }], 'a client logged in before carries on');
    await open.end();
    assert.ok(await poolHealthy(box, pool), "the pool's health check logs in with the new password");
    assert.is(pool.server.process.exitCode, null, 'PgBouncer was not restarted');
  });
});

test('a reload with a password the server does not have changes nothing in the pool', async () => {
  await withSandbox(async (box) => {
    await box.startReady();
    const pool = await startPool(box);
    const reload = await box.runAsPostgres(poolScript(box), ['reload'], { env: pool.env, input: 'not the role password' });
    assert.is(reload.exitCode, 1);
    assert.match(String(reload.all), /pool: error: cannot read the SCRAM secret of poststack .*password authentication failed/);
    assert.is(await connectError(box, { port: pool.port }), 'connected', 'the current password still works through the pool');
    assert.ok(await poolHealthy(box, pool));
  });
});

test.run();
