// TLS through the pool with a CA made here: clients must use TLS and can verify the certificate
// fully, PgBouncer talks TLS to a server that refuses plain TCP, and its key is a private copy.
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, makeCertificates, mountedCertificates, postgresUid, type Sandbox, withSandbox } from '../image/sandbox.js';
import { skipUnless } from '../support/skip.js';
import { poolHealthy, poolMissing, poolRunDir, poolScript, startPool } from './pool.js';

const DOMAIN = 'db.example.test';
const test = skipUnless(suite('pool: TLS'), poolMissing(), 'PgBouncer in front of PostgreSQL 15');

const failure = (promise: Promise<unknown>) => promise.then(() => 'connected', (error) => String(error.message));

test('clients must use TLS and can verify it fully; PgBouncer reaches the TLS-only server over TLS', async () => {
  await withSandbox(async (box) => {
    const ca = await mountedCertificates(box, DOMAIN);
    const tls = { ssl: { ca, servername: 'localhost' } };
    await box.startReady({ env: { DOMAIN }, connect: tls });
    const pool = await startPool(box, { DOMAIN }, tls);

    assert.match(await failure(box.connect({ port: pool.port, ssl: false })), /SSL required/, 'plain TCP is refused at the pool');
    const [row] = await box.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()', [], { ...tls, port: pool.port });
    assert.is(row.ssl, true, 'the server connection PgBouncer uses is encrypted too');
    const other = await otherCa(box);
    assert.match(await failure(box.connect({ port: pool.port, ssl: { ca: other, servername: 'localhost' } })),
      /self[- ]signed|unable to verify|certificate/i, 'a client that trusts another CA refuses the pool');

    const psql = await box.runAsPostgres('psql', [
      `host=localhost port=${pool.port} user=poststack dbname=poststack sslmode=verify-full sslrootcert=${path.join(box.dir, 'ca/ca.pem')}`,
      '--no-psqlrc', '--tuples-only', '--no-align', '--command=SELECT current_user',
    ], { env: { PGPASSWORD: box.password } });
    assert.is(psql.exitCode, 0, String(psql.all));
    assert.is(String(psql.stdout).trim(), 'poststack');

    assert.ok(await poolHealthy(box, pool), 'healthy over TLS');
    const key = fs.statSync(path.join(poolRunDir(box), 'server.key'));
    assert.is(key.mode & 0o777, 0o600);
    assert.is(key.uid, postgresUid());
    assert.match(fs.readFileSync(path.join(poolRunDir(box), 'pgbouncer.ini'), 'utf8'), /^client_tls_sslmode = require$[\s\S]*^server_tls_sslmode = require$/m);
    assert.is(await box.stop(pool.server, 'SIGINT'), 0);
  });
});

/** A second CA, unrelated to the one that signed the pool's certificate. */
async function otherCa(box: Sandbox): Promise<string> {
  return makeCertificates(path.join(box.dir, 'other-ca'), path.join(box.dir, 'other-server'));
}

test('TLS works on a system without a CA bundle, as in the image: PgBouncer is given a CA file of its own', async () => {
  await withSandbox(async (box) => {
    const ca = await mountedCertificates(box, DOMAIN);
    const tls = { ssl: { ca, servername: 'localhost' } };
    await box.startReady({ env: { DOMAIN }, connect: tls });
    const port = await freePort();
    // The entrypoint and pool.sh, as the OS user postgres, in a mount namespace where /etc/ssl is empty.
    const pool = execa('unshare', ['--mount', '--propagation=private', '--', 'sh', '-c', 'mount -t tmpfs tmpfs /etc/ssl && exec "$@"', 'sh',
      'setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', '--', path.join(box.paths.scripts, 'entrypoint.sh'), poolScript(box)],
    { env: box.env({ DOMAIN, POOL_SERVER_HOST: '127.0.0.1', POOL_LISTEN_ADDR: '127.0.0.1', POOL_PORT: String(port) }), extendEnv: false, reject: false, all: true });
    try {
      const server = { process: pool, output: () => '', exited: pool.then((r) => r.exitCode ?? 1) };
      await box.waitReady(server, { ...tls, port }).catch(async (error) => {
        pool.kill('SIGINT');
        throw new Error(`${error.message}\n${(await pool).all}`);
      });
      const [row] = await box.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()', [], { ...tls, port });
      assert.is(row.ssl, true);
    } finally {
      pool.kill('SIGINT');
      await pool;
    }
  });
});

test('DOMAIN without a readable certificate stops the pool with the reason, never plain text', async () => {
  await withSandbox(async (box) => {
    const result = await box.runAsPostgres(poolScript(box), [], { env: { DOMAIN, POOL_SERVER_HOST: '127.0.0.1' } });
    assert.is(result.exitCode, 1);
    assert.match(String(result.all), /DOMAIN=db\.example\.test asks for TLS, but .*fullchain\.pem is missing/);
    assert.not.ok(fs.existsSync(path.join(poolRunDir(box), 'pgbouncer.ini')), 'no configuration was written');
  });
});

test.run();
