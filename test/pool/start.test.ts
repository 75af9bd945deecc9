// What pool.sh makes of the contract's environment: SCRAM logins with a password that breaks naive
// quoting, checked against the server's own SCRAM secret in a private file on the run directory
// (the password in none), PgBouncer itself as the process the stop signal reaches, a health check
// that needs a real login, and clear errors.
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connectError, postgresUid, type Sandbox, type Server, sleep, TORTURE_PASSWORD, withSandbox } from '../image/sandbox.js';
import { skipUnless } from '../support/skip.js';
import { poolHealthy, poolMissing, poolRunDir, poolScript, queryError, spawnPool, startPool } from './pool.js';

const test = skipUnless(suite('pool: start'), poolMissing(), 'PgBouncer in front of PostgreSQL 15');

/** A password file the OS user postgres can read, as a Podman secret arrives. */
function secretFile(box: Sandbox, name: string, content: string): string {
  const file = path.join(box.dir, 'secrets', name);
  fs.writeFileSync(file, content, { mode: 0o400 });
  fs.chownSync(file, postgresUid(), postgresUid());
  return file;
}

const processFile = (server: Server, name: string) => fs.readFileSync(`/proc/${server.process.pid}/${name}`, 'utf8');

test("the torture password logs in through the pool with SCRAM; a wrong one is refused; the pool holds the server's secret, not the password", async () => {
  await withSandbox(async (box) => {
    await box.startReady();
    const pool = await startPool(box);

    const [row] = await box.query('SELECT current_user AS user, current_database() AS db, inet_client_addr()::text AS via', [], { port: pool.port });
    assert.equal(row, { user: 'poststack', db: 'poststack', via: '127.0.0.1/32' });
    const refused = await box.connect({ port: pool.port, password: `${TORTURE_PASSWORD}x` }).then(() => 'connected', (e) => e.code);
    assert.is(refused, '08P01', 'PgBouncer refuses a wrong password');
    const trimmed = await box.connect({ port: pool.port, password: TORTURE_PASSWORD.trim() }).then(() => 'connected', (e) => e.code);
    assert.is(trimmed, '08P01', 'the password is taken byte for byte');
    assert.match(pool.server.output(), /SASL authentication failed/);

    const dir = poolRunDir(box);
    assert.is(fs.statSync(dir).mode & 0o777, 0o700);
    const onTmpfs = (await execa('stat', ['--file-system', '--format=%T', dir])).stdout === 'tmpfs';
    assert.is(/warning: .* not a tmpfs: the auth file \(the role's SCRAM secret\) and the TLS key are written to that disk/.test(pool.server.output()), !onTmpfs, 'a run directory on a disk is reported');
    for (const name of ['pgbouncer.ini', 'users.txt']) {
      const stat = fs.statSync(path.join(dir, name));
      assert.is(stat.mode & 0o777, 0o600, `${name} is private`);
      assert.is(stat.uid, postgresUid());
    }
    assert.equal(fs.readdirSync(dir).sort(), ['pgbouncer.ini', 'pgbouncer.pid', 'users.txt']);
    const secret = await box.superuser("SELECT rolpassword FROM pg_authid WHERE rolname = 'poststack'");
    assert.is(fs.readFileSync(path.join(dir, 'users.txt'), 'utf8'), `"poststack" "${secret}"\n`, "the server's own SCRAM secret");
    assert.not.ok(fs.readFileSync(path.join(dir, 'pgbouncer.ini'), 'utf8').includes('🔑'), 'the configuration does not carry the password');

    // setpriv, the entrypoint and pool.sh all exec: the process started is PgBouncer itself.
    assert.equal(processFile(pool.server, 'cmdline').split('\0').filter(Boolean), ['pgbouncer', path.join(dir, 'pgbouncer.ini')]);
    assert.not.ok(processFile(pool.server, 'environ').includes('🔑'), "the password is not in PgBouncer's environment");
    assert.not.ok(pool.server.output().includes('🔑'), 'nor in its log');

    assert.is(await box.stop(pool.server, 'SIGINT'), 0);
  });
});

test('not healthy before PgBouncer listens; healthy once it accepts a login (--wait: as soon as it does), and only with the right password', async () => {
  await withSandbox(async (box) => {
    await box.startReady();
    // pool.sh waits on a secret that has not arrived yet: started, but nothing listens.
    const fifo = path.join(box.dir, 'secrets', 'pending');
    await execa('mkfifo', ['--mode=0600', fifo]);
    fs.chownSync(fifo, postgresUid(), postgresUid());
    const pool = await spawnPool(box, { POSTGRES_PASSWORD_FILE: fifo });
    const check = { POSTGRES_PASSWORD_FILE: box.paths.passwordFile };
    assert.not.ok(await poolHealthy(box, pool, check), 'not healthy before PgBouncer listens');
    assert.is(await connectError(box, { port: pool.port }), 'ECONNREFUSED');

    // The start-up check's --wait: healthy as soon as PgBouncer listens, within the same check.
    const waiting = poolHealthy(box, pool, check, ['--wait', '20']);
    await sleep(300);
    fs.writeFileSync(fifo, box.password);
    assert.ok(await waiting, 'healthy with --wait once PgBouncer listens');
    assert.ok(await poolHealthy(box, pool, check), 'healthy when up');
    assert.not.ok(await poolHealthy(box, pool, check, ['--wait', 'x']), '--wait takes seconds');
    const wrong = secretFile(box, 'wrong', 'wrong');
    assert.not.ok(await poolHealthy(box, pool, { POSTGRES_CURRENT_PASSWORD_FILE: wrong }), 'a password the pool does not know is not healthy');
    await box.stop(pool.server, 'SIGTERM');
    assert.not.ok(await poolHealthy(box, pool, check), 'not healthy after the stop');
  });
});

test('the stop signal reaches PgBouncer: SIGINT lets the transaction in flight finish and exits 0, SIGTERM drops it and exits 1', async () => {
  await withSandbox(async (box) => {
    await box.startReady();
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const pool = await startPool(box);
      const idle = await box.connect({ port: pool.port });
      idle.on('error', () => undefined);
      const busy = await box.connect({ port: pool.port });
      busy.on('error', () => undefined);
      await busy.query('BEGIN');
      await busy.query('SELECT 1');
      const exit = box.stop(pool.server, signal);
      await sleep(300);
      if (signal === 'SIGINT') {
        assert.is(pool.server.process.exitCode, null, 'SIGINT waits for the open transaction');
        await busy.query('COMMIT');
        assert.is(await exit, 0);
      } else {
        assert.is(await exit, 1, 'PgBouncer 1.18 exits 1 on SIGTERM');
        assert.is.not(await queryError(busy, 'COMMIT'), 'ok', 'the open transaction is cut off');
      }
      await Promise.all([idle.end(), busy.end()].map((p) => p.catch(() => undefined)));
    }
  });
});

test('every problem in the environment is named at once, and nothing starts', async () => {
  await withSandbox(async (box) => {
    const result = await box.runAsPostgres(poolScript(box), [], {
      env: { POOL_SERVER_HOST: 'db;rm', POOL_MODE: 'sessions', POOL_MAX_CLIENT_CONN: '0', POOL_DEFAULT_POOL_SIZE: 'x', POOL_PORT: '70000', POOL_LISTEN_ADDR: '127.0.0.1 6432', POOL_RUN_DIR: '/tmp/a b', POOL_SERVER_WAIT: 'soon' },
    });
    assert.is(result.exitCode, 1);
    for (const variable of ['POOL_SERVER_HOST', 'POOL_MODE', 'POOL_MAX_CLIENT_CONN', 'POOL_DEFAULT_POOL_SIZE', 'POOL_PORT', 'POOL_LISTEN_ADDR', 'POOL_RUN_DIR', 'POOL_SERVER_WAIT']) {
      assert.match(String(result.all), new RegExp(`pool: error: ${variable}=`), variable);
    }
    assert.not.ok(fs.existsSync(poolRunDir(box)), 'nothing was written');

    const missing = await box.runAsPostgres(poolScript(box), []);
    assert.is(missing.exitCode, 1);
    assert.match(String(missing.all), /POOL_SERVER_HOST='' must name the PostgreSQL server/);
  });
});

test('any password PostgreSQL takes works through the pool: a line break, 1100 bytes', async () => {
  await withSandbox(async (box) => {
    await box.startReady();
    const password = `line\nbreak ${'é'.repeat(550)}`;
    await box.superuser(`ALTER ROLE poststack PASSWORD '${password}'`);
    const pool = await startPool(box, { POSTGRES_PASSWORD_FILE: secretFile(box, 'long', password) }, { password });
    const [row] = await box.query('SELECT current_user AS user', [], { port: pool.port, password });
    assert.equal(row, { user: 'poststack' });
    assert.ok(await poolHealthy(box, pool), 'the health check logs in with it');
    assert.is(await box.stop(pool.server, 'SIGINT'), 0);
  });
});

test('a password PostgreSQL refuses, a lookup the role may not call or that is missing, a server that never answers, a missing password: pool.sh says which, and PgBouncer does not start', async () => {
  await withSandbox(async (box) => {
    const server = await box.startReady();
    const wrong = await box.runAsPostgres(poolScript(box), [], { env: { POOL_SERVER_HOST: '127.0.0.1', POSTGRES_PASSWORD_FILE: secretFile(box, 'wrong', 'wrong') } });
    assert.is(wrong.exitCode, 1);
    assert.match(String(wrong.all), /pool: error: cannot read the SCRAM secret of poststack from PostgreSQL at 127\.0\.0\.1:\d+: .*password authentication failed/);

    await box.superuser('REVOKE EXECUTE ON FUNCTION pgquadlet.scram_secret() FROM poststack', 'postgres');
    const denied = await box.runAsPostgres(poolScript(box), [], { env: { POOL_SERVER_HOST: '127.0.0.1' } });
    assert.is(denied.exitCode, 1);
    assert.match(String(denied.all), /poststack may not call pgquadlet\.scram_secret\(\), which is granted to the role the cluster was made for/);

    await box.superuser('DROP SCHEMA pgquadlet CASCADE', 'postgres');
    const missing = await box.runAsPostgres(poolScript(box), [], { env: { POOL_SERVER_HOST: '127.0.0.1' } });
    assert.is(missing.exitCode, 1);
    assert.match(String(missing.all), /PostgreSQL has no pgquadlet\.scram_secret\(\), which its container's entrypoint creates at start: restart the PostgreSQL container/);
    assert.is(await box.stop(server), 0);

    const down = await box.runAsPostgres(poolScript(box), [], { env: { POOL_SERVER_HOST: '127.0.0.1', POOL_SERVER_WAIT: '1' } });
    assert.is(down.exitCode, 1);
    assert.match(String(down.all), /PostgreSQL at 127\.0\.0\.1:\d+ did not accept connections within 1 s \(POOL_SERVER_WAIT\)/);

    const empty = await box.runAsPostgres(poolScript(box), [], { env: { POOL_SERVER_HOST: '127.0.0.1', POSTGRES_PASSWORD_FILE: secretFile(box, 'empty', '') } });
    assert.is(empty.exitCode, 1);
    assert.match(String(empty.all), /no password for poststack/);
    assert.not.ok(fs.existsSync(path.join(poolRunDir(box), 'users.txt')), 'no auth file was written');
  });
});

test.run();
