// TLS with a CA and a server certificate made here: TCP only over TLS, the key usable although the
// mounted file is one PostgreSQL would refuse, the mount left untouched, and no quiet fallback.
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skipUnless } from '../support/skip.js';
import { connectError, mountedCertificates, postgresUid, sandboxMissing, withSandbox } from './sandbox.js';

const DOMAIN = 'db.example.test';
const test = skipUnless(suite('image: TLS'), sandboxMissing(), 'image scripts against PostgreSQL 15');

function snapshot(dir: string): string {
  return fs.readdirSync(dir).sort().map((name) => {
    const s = fs.statSync(path.join(dir, name));
    return `${name} ${s.mode.toString(8)} ${s.uid}:${s.gid} ${s.mtimeMs} ${s.size}`;
  }).join('\n');
}

test('verify-full connects over TLS, plain TCP is refused, the key copy is private, and a restart keeps TLS on', async () => {
  await withSandbox(async (box) => {
    const ca = await mountedCertificates(box, DOMAIN);
    const mount = path.join(box.paths.certificates, DOMAIN);
    const before = snapshot(mount);
    const tls = { ssl: { ca, servername: 'localhost' } };

    for (const round of ['first start', 'restart']) {
      const server = await box.startReady({ env: { DOMAIN }, connect: tls });
      const [row] = await box.query('SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()', [], tls);
      assert.is(row.ssl, true, `${round}: the connection is encrypted`);
      assert.match(row.version, /^TLSv1\.[23]$/);
      assert.is(await connectError(box, { ssl: false }), '28000', `${round}: plain TCP is refused`);

      const psql = await box.runAsPostgres('psql', [
        `host=localhost port=${box.port} user=poststack dbname=poststack sslmode=verify-full sslrootcert=${path.join(box.dir, 'ca/ca.pem')}`,
        '--no-psqlrc', '--tuples-only', '--command=SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      ], { env: { PGPASSWORD: box.password } });
      assert.is(psql.exitCode, 0, String(psql.all));
      assert.is(String(psql.stdout).trim(), 't');
      assert.ok(await box.healthy({ DOMAIN }), `${round}: healthy over TLS`);
      assert.is(await box.stop(server), 0);
    }

    const key = fs.statSync(path.join(box.paths.ssl, 'server.key'));
    assert.is(key.mode & 0o777, 0o600);
    assert.is(key.uid, postgresUid());
    assert.is(snapshot(mount), before, 'nothing in the certificate mount changed');
    const keyOnVolume = fs.readdirSync(box.paths.pgdata, { recursive: true }).some((f) => String(f).endsWith('.key'));
    assert.not.ok(keyOnVolume, 'no key is written into the data directory');
  });
});

test('DOMAIN without a usable key or certificate is an error, never plain text', async () => {
  await withSandbox(async (box) => {
    await mountedCertificates(box, DOMAIN);
    const key = path.join(box.paths.certificates, DOMAIN, 'privkey.pem');

    fs.chownSync(key, 0, 0);
    fs.chmodSync(key, 0o600);
    const unreadable = box.start({ env: { DOMAIN } });
    assert.is(await unreadable.exited, 1);
    assert.match(unreadable.output(), /DOMAIN=db\.example\.test asks for TLS, but .*privkey\.pem is missing or not readable by postgres/);

    fs.rmSync(key);
    const missing = box.start({ env: { DOMAIN } });
    assert.is(await missing.exited, 1);
    assert.match(missing.output(), /privkey\.pem is missing or not readable/);

    const noDirectory = box.start({ env: { DOMAIN: 'other.example.test' } });
    assert.is(await noDirectory.exited, 1);
    assert.match(noDirectory.output(), /other\.example\.test\/fullchain\.pem is missing/);
    assert.not.ok(fs.existsSync(path.join(box.paths.pgdata, 'PG_VERSION')), 'nothing was initialized');
  });
});

test('a key that does not match the certificate stops the server instead of serving plain text', async () => {
  await withSandbox(async (box) => {
    await mountedCertificates(box, DOMAIN);
    const other = path.join(box.dir, 'other.key');
    await execa('openssl', ['genpkey', '-algorithm', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', other]);
    const key = path.join(box.paths.certificates, DOMAIN, 'privkey.pem');
    fs.writeFileSync(key, fs.readFileSync(other));
    fs.chmodSync(key, 0o640);
    const server = box.start({ env: { DOMAIN } });
    assert.is.not(await server.exited, 0);
    assert.match(server.output(), /private key|key values mismatch/i);
  });
});

test.run();
