// Who may log in, and how: SCRAM over TCP with a password that breaks naive quoting, peer for the
// OS user postgres over the socket (how maintenance scripts log in), and nothing trusted.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skipUnless } from '../support/skip.js';
import { connectError, sandboxMissing, TORTURE_PASSWORD, withSandbox } from './sandbox.js';

const test = skipUnless(suite('image: authentication'), sandboxMissing(), 'image scripts against PostgreSQL 15');

test('the torture password from the secret file logs in over TCP with SCRAM; a wrong one is refused', async () => {
  await withSandbox(async (box) => {
    // Every statement logged, the first-start server's included: only the entrypoint's own care
    // keeps the statement that sets the password out of the log.
    fs.appendFileSync(path.join(box.paths.templates, 'postgresql.conf.template'), "log_statement = 'all'\n");
    const server = await box.startReady();
    const [row] = await box.query('SELECT current_user AS user, inet_server_addr() IS NOT NULL AS tcp');
    assert.equal(row, { user: 'poststack', tcp: true });
    assert.is(await connectError(box, { password: `${TORTURE_PASSWORD}x` }), '28P01');
    assert.is(await connectError(box, { password: TORTURE_PASSWORD.trim() }), '28P01', 'the password is taken byte for byte');
    assert.match(await box.superuser("SELECT rolpassword FROM pg_authid WHERE rolname = 'poststack'"), /^SCRAM-SHA-256\$/);

    const texts = await box.superuser('SELECT string_agg(query, E\'\\n\') FROM pg_stat_statements');
    assert.not.ok(texts.includes('🔑'), 'the password is not in pg_stat_statements');
    assert.not.ok(server.output().includes('🔑'), 'the password is not in the server log');
    assert.is(await box.stop(server), 0);
  });
});

test('POSTGRES_PASSWORD works as well as the file', async () => {
  await withSandbox(async (box) => {
    const server = await box.startReady({ env: { POSTGRES_PASSWORD_FILE: undefined, POSTGRES_PASSWORD: TORTURE_PASSWORD } });
    assert.is(await connectError(box), 'connected');
    assert.is(await connectError(box, { password: 'wrong' }), '28P01');
    assert.is(await box.stop(server), 0);
  }, TORTURE_PASSWORD);
});

test('over the socket: the OS user postgres gets in by peer, the application role needs its password, no one is trusted', async () => {
  await withSandbox(async (box) => {
    const server = await box.startReady();
    assert.is(await box.superuser('SELECT current_user', 'postgres'), 'postgres');
    const socket = ['--no-psqlrc', '--no-password', `--host=${box.paths.socket}`, `--port=${box.port}`, '--command=SELECT 1'];

    const appNoPassword = await box.runAsPostgres('psql', [...socket, '--username=poststack', '--dbname=poststack']);
    assert.is.not(appNoPassword.exitCode, 0);
    assert.match(String(appNoPassword.all), /password/);

    const appWithPassword = await box.runAsPostgres('psql', [...socket, '--username=poststack', '--dbname=poststack'], {
      env: { PGPASSWORD: TORTURE_PASSWORD },
    });
    assert.is(appWithPassword.exitCode, 0, String(appWithPassword.all));

    const tcpSuperuser = await box.runAsPostgres('psql', [
      '--no-psqlrc', '--no-password', '--host=127.0.0.1', `--port=${box.port}`, '--username=postgres', '--dbname=postgres', '--command=SELECT 1',
    ]);
    assert.is.not(tcpSuperuser.exitCode, 0, 'the superuser has no password and no way in over TCP');
    assert.is(await box.stop(server), 0);
  });
});

test.run();
