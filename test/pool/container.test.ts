// The pool container for real, once: the image built from image/ with Podman 5.4 runs pool.sh
// hardened as the pool unit runs it (read-only root, no capabilities, no new privileges, the
// password as a Podman secret, the certificates mounted read-only), in front of a sandboxed
// PostgreSQL on this host. The tree's Podman shares the host's network, so both meet on loopback.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, makeCertificates, postgresGid, sleep, TORTURE_PASSWORD, withSandbox } from '../image/sandbox.js';
import { execInContainer, findProcess, processStatus, trixie, trixieMust } from '../support/container-process.js';
import { systemdMissing, trixieRoot } from '../support/real-tools.js';
import { skipUnless } from '../support/skip.js';
import { poolMissing } from './pool.js';

const TAG = 'localhost/pg-quadlet-pool-test:latest';
const DOMAIN = 'db.example.test';
const CERTGROUP_GID = 990;
const REPO = path.resolve(import.meta.dirname, '../..');

function containerMissing(): string | null {
  return poolMissing() ?? systemdMissing();
}

const test = skipUnless(suite('pool: real container'), containerMissing(), 'the pool in a real Podman container');
test('pool.sh starts PgBouncer as PID 1 under a read-only root without capabilities, with TLS to clients and to the server', async () => {
  const id = randomBytes(4).toString('hex');
  const secret = `pg-pool-test-${id}`;
  const inTree = `/var/tmp/pg-pool-test-${id}`;
  const hostDir = path.join(trixieRoot, inTree);
  let run: ReturnType<typeof trixie> | undefined;
  let pid: number | undefined;
  try {
    await withSandbox(async (box) => {
      await trixieMust(['base-image']);
      await trixieMust(['build', path.join(REPO, 'image'), TAG, '--build-arg', 'BASE_IMAGE=localhost/base-debian:latest']);

      // One certificate, mounted for each side as its owner reads it.
      const ca = await makeCertificates(path.join(box.dir, 'ca'), path.join(box.paths.certificates, DOMAIN));
      fs.chownSync(path.join(box.paths.certificates, DOMAIN, 'privkey.pem'), 0, postgresGid());
      fs.chmodSync(path.join(box.paths.certificates, DOMAIN, 'privkey.pem'), 0o640);
      const certs = path.join(hostDir, 'certificates', DOMAIN);
      fs.mkdirSync(certs, { recursive: true });
      for (const file of ['fullchain.pem', 'privkey.pem']) fs.copyFileSync(path.join(box.paths.certificates, DOMAIN, file), path.join(certs, file));
      fs.chownSync(path.join(certs, 'privkey.pem'), 0, CERTGROUP_GID);
      fs.chmodSync(path.join(certs, 'privkey.pem'), 0o640);
      fs.writeFileSync(path.join(hostDir, 'password'), TORTURE_PASSWORD, { mode: 0o600 });
      await trixieMust(['run-podman', 'secret', 'create', secret, `${inTree}/password`]);

      const tls = { ssl: { ca, servername: 'localhost' } };
      await box.startReady({ env: { DOMAIN }, connect: tls });
      const port = await freePort();
      const marker = `PG_POOL_TEST_RUN=${id}`;
      run = trixie([
        'run-podman', 'run', '--rm', `--name=pg-pool-test-${id}`,
        '--read-only', '--cap-drop=all', '--security-opt=no-new-privileges',
        `--secret=${secret},type=mount,target=postgres-password,uid=999,gid=999,mode=0400`,
        '--env=POSTGRES_PASSWORD_FILE=/run/secrets/postgres-password', `--env=DOMAIN=${DOMAIN}`,
        '--env=POOL_SERVER_HOST=127.0.0.1', `--env=POSTGRES_PORT=${box.port}`,
        '--env=POOL_LISTEN_ADDR=127.0.0.1', `--env=POOL_PORT=${port}`, `--env=${marker}`,
        `--volume=${inTree}/certificates/${DOMAIN}:/data/certificates/${DOMAIN}:ro`,
        TAG, '/usr/local/bin/pool.sh',
      ]);
      const current = run;
      const deadline = Date.now() + 60_000;
      for (;;) {
        const state = await box.connect({ ...tls, port }).then(async (c) => (await c.end(), 'ready'), (e) => String(e.message));
        if (state === 'ready') break;
        if (current.exitCode !== null || Date.now() > deadline) throw new Error(`the pool did not become ready (${state}):\n${(await current).all}`);
        await sleep(200);
      }

      pid = findProcess(marker);
      assert.ok(pid, 'the pool process is found');
      const s = processStatus(pid);
      assert.is(s.Name, 'pgbouncer');
      assert.is(s.NSpid?.split(/\s+/).at(-1), '1', 'PgBouncer is PID 1 in the container');
      assert.is(s.Uid?.split(/\s+/)[0], '999');
      assert.is(s.CapEff, '0000000000000000');
      assert.is(s.NoNewPrivs, '1');

      const [row] = await box.query("SELECT ssl, current_user AS user FROM pg_stat_ssl WHERE pid = pg_backend_pid()", [], { ...tls, port });
      assert.equal(row, { ssl: true, user: 'poststack' }, 'through the pool, TLS to the server');
      assert.match(await box.connect({ port, ssl: false }).then(() => 'connected', (e) => String(e.message)), /SSL required/);

      const health = await execInContainer(pid, ['/usr/local/bin/pool-health-check.sh']);
      assert.is(health.exitCode, 0, String(health.all));
      const files = await execInContainer(pid, ['stat', '-c', '%a %U %n', '/run/postgresql/pool', '/run/postgresql/pool/pgbouncer.ini', '/run/postgresql/pool/users.txt', '/run/postgresql/pool/server.key']);
      assert.is(String(files.stdout), [
        '700 postgres /run/postgresql/pool', '600 postgres /run/postgresql/pool/pgbouncer.ini',
        '600 postgres /run/postgresql/pool/users.txt', '600 postgres /run/postgresql/pool/server.key',
      ].join('\n'));
      const mount = await execInContainer(pid, ['findmnt', '-n', '-o', 'FSTYPE', '--target', '/run/postgresql/pool']);
      assert.is(String(mount.stdout).trim(), 'tmpfs', 'the auth file is in memory only');

      process.kill(pid, 'SIGINT');
      const result = await current;
      assert.is(result.exitCode, 0, String(result.all));
      assert.match(String(result.all), /pool: PgBouncer on 127\.0\.0\.1/);
      assert.not.match(String(result.all), /not a tmpfs/);
      run = undefined;
      pid = undefined;
    });
  } finally {
    if (run && run.exitCode === null) {
      if (pid) process.kill(pid, 'SIGKILL');
      await Promise.race([run, sleep(30_000)]);
    }
    await trixie(['run-podman', 'secret', 'rm', '--ignore', secret]);
    fs.rmSync(hostDir, { recursive: true, force: true });
  }
});

test.run();
