// The same smoke test once in a real container: built from image/ with Podman 5.4, run hardened
// as the units run it (read-only root, no capabilities, no new privileges, the password as a
// Podman secret, named volumes, certificates and init files mounted read-only).
//
// test/support/trixie.sh holds the tree's lock for as long as one podman command runs, so while
// the container runs, the health check is run in it the way `podman exec` would: nsenter into its
// namespaces as UID 999 without capabilities, with the container's environment.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execInContainer, findProcess, processStatus, removeTestContainer, trixie, trixieMust } from '../support/container-process.js';
import { systemdMissing, trixieRoot, trixieScript } from '../support/real-tools.js';
import { skipUnless } from '../support/skip.js';
import { freePort, makeCertificates, sleep, TORTURE_PASSWORD } from './sandbox.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const TAG = 'localhost/pg-quadlet-image-test:latest';
const DOMAIN = 'db.example.test';
const CERTGROUP_GID = 990;

function containerMissing(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (namespaces, chroot)';
  if (!fs.existsSync(trixieScript)) return `${trixieScript} is missing`;
  return systemdMissing();
}

const test = skipUnless(suite('image: real container'), containerMissing(), 'the image in a real Podman container');

test('built from image/, run read-only without capabilities: initializes, serves TLS with the secret password, healthy, stops cleanly, restarts', async () => {
  const id = randomBytes(4).toString('hex');
  const names = { secret: `pg-image-test-${id}`, data: `pg-image-test-data-${id}`, backups: `pg-image-test-backups-${id}` };
  // Only the tree is visible to its podman: the mounted files live inside it.
  const inTree = `/var/tmp/pg-image-test-${id}`;
  const hostDir = path.join(trixieRoot, inTree);
  const port = await freePort();
  let run: ReturnType<typeof trixie> | undefined;
  let pid: number | undefined;
  try {
    await trixieMust(['base-image']);
    await trixieMust(['build', path.join(REPO, 'image'), TAG, '--build-arg', 'BASE_IMAGE=localhost/base-debian:latest']);

    // Any other command runs as given: every binary finds its libraries, PgBouncer included.
    const tools = await trixieMust([
      'run-podman', 'run', '--rm', '--read-only', '--cap-drop=all', '--network=none', TAG, 'bash', '-c',
      'find /usr/lib/postgresql /usr/sbin/pgbouncer -type f \\( -perm -u+x -o -name "*.so" \\) -exec ldd {} + 2>/dev/null | grep -c "not found"; ' +
        'pgbouncer --version | head -n 1; psql --version; pg_dump --version',
    ]).catch((error: Error) => error.message);
    assert.match(tools, /^0\nPgBouncer 1\.\d+.*\npsql \(PostgreSQL\) 15\.\d+.*\npg_dump \(PostgreSQL\) 15\./);

    const certs = path.join(hostDir, 'certificates', DOMAIN);
    const ca = await makeCertificates(hostDir, certs);
    fs.mkdirSync(path.join(hostDir, 'init.d'));
    fs.writeFileSync(path.join(hostDir, 'init.d/010-schema.sql'), "CREATE TABLE items (name text); INSERT INTO items VALUES ('init');\n");
    // Readable only through the certgroup, as on a host where certificates belong to root.
    fs.chownSync(path.join(certs, 'privkey.pem'), 0, CERTGROUP_GID);
    fs.chmodSync(path.join(certs, 'privkey.pem'), 0o640);

    fs.writeFileSync(path.join(hostDir, 'password'), TORTURE_PASSWORD, { mode: 0o600 });
    await trixieMust(['run-podman', 'secret', 'create', names.secret, `${inTree}/password`]);

    const client = (config: pg.ClientConfig = {}) =>
      new pg.Client({
        host: '127.0.0.1', port, user: 'poststack', database: 'poststack', password: TORTURE_PASSWORD,
        ssl: { ca, servername: 'localhost' }, connectionTimeoutMillis: 5000, ...config,
      });
    const tryConnect = async (config: pg.ClientConfig = {}): Promise<string> => {
      const c = client(config);
      try {
        await c.connect();
        await c.end();
        return 'connected';
      } catch (error) {
        await c.end().catch(() => undefined);
        return (error as { code?: string }).code ?? String(error);
      }
    };

    for (const round of ['first start', 'restart']) {
      const marker = `PG_IMAGE_TEST_RUN=${id}-${round === 'first start' ? 1 : 2}`;
      // The tree's Podman shares the host's network: the port is chosen free here.
      const current = trixie([
        'run-podman', 'run', '--rm', `--name=pg-image-test-${id}`,
        '--read-only', '--cap-drop=all', '--security-opt=no-new-privileges',
        `--secret=${names.secret},type=mount,target=postgres-password,uid=999,gid=999,mode=0400`,
        '--env=POSTGRES_PASSWORD_FILE=/run/secrets/postgres-password', `--env=DOMAIN=${DOMAIN}`,
        `--env=POSTGRES_PORT=${port}`, `--env=${marker}`,
        `--volume=${names.data}:/data/postgres`, `--volume=${names.backups}:/data/postgres/backups`,
        `--volume=${inTree}/certificates/${DOMAIN}:/data/certificates/${DOMAIN}:ro`,
        `--volume=${inTree}/init.d:/data/init.d:ro`,
        TAG, 'postgres', '-c', 'work_mem=5MB',
      ]);
      run = current;
      const deadline = Date.now() + 120_000;
      while ((await tryConnect()) !== 'connected') {
        if (current.exitCode !== null || Date.now() > deadline) {
          const result = await current;
          throw new Error(`${round}: the container did not become ready:\n${result.all}`);
        }
        await sleep(200);
      }
      pid = findProcess(marker, 'postgres');
      assert.ok(pid, `${round}: the server process is found`);
      const s = processStatus(pid);
      assert.is(s.NSpid?.split(/\s+/).at(-1), '1', 'the server is PID 1 in the container');
      assert.is(s.Uid?.split(/\s+/)[0], '999');
      assert.ok(s.Groups?.split(/\s+/).includes(String(CERTGROUP_GID)), 'in the certgroup');
      assert.is(s.CapEff, '0000000000000000');
      assert.is(s.NoNewPrivs, '1');

      const c = client();
      await c.connect();
      const { rows } = await c.query(
        "SELECT (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl, current_setting('work_mem') AS work_mem, (SELECT count(*)::int FROM items) AS items, " +
          "to_char(timestamptz '2024-07-01 12:00Z' AT TIME ZONE 'Europe/Berlin', 'HH24:MI') AS berlin",
      );
      await c.end();
      assert.equal(rows[0], { ssl: true, work_mem: '5MB', items: 1, berlin: '14:00' }, `${round}: TLS, the argument, the init file once, time zones`);
      assert.is(await tryConnect({ ssl: false }), '28000', 'plain TCP is refused');
      assert.is(await tryConnect({ password: 'wrong' }), '28P01');
      assert.is(((await execInContainer(pid, ['/usr/local/bin/health-check.sh'])).exitCode ?? 1), 0, `${round}: health-check.sh passes in the container`);

      process.kill(pid, 'SIGINT');
      const result = await current;
      assert.is(result.exitCode, 0, String(result.all));
      assert.match(String(result.all), /database system is shut down/);
      if (round === 'restart') assert.not.match(String(result.all), /not properly shut down|running \/data\/init\.d/);
      run = undefined;
      pid = undefined;
    }
  } finally {
    await removeTestContainer({ run, pid, names, hostDir });
  }
});

test.run();
