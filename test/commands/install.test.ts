import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatInstall, install, type InstallOptions } from '../../lib/commands/install.js';
import { formatUninstall, uninstall, type UninstallOptions } from '../../lib/commands/uninstall.js';
import { contextFor } from '../../lib/context.js';
import { isPgQuadletError, resolveConfig, type PostgresServiceInput } from '../../lib/index.js';
import { FakeHost } from '../support/fake-host.js';

function setup(input: PostgresServiceInput = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-quadlet-install-'));
  const host = new FakeHost();
  const context = (overrides: PostgresServiceInput = input, env: Record<string, string> = {}) =>
    contextFor(resolveConfig(overrides), { runner: host, root, env: { HOME: '/home/ann', ...env } });
  const { config, paths } = context();
  const run = (extra: Partial<InstallOptions> & { env?: Record<string, string> } = {}, overrides: PostgresServiceInput = input) => {
    const { env, ...options } = extra;
    return install(context(overrides, env), options);
  };
  const remove = (options: UninstallOptions = {}) => uninstall(context(), options);
  return { root, config, host, paths, run, remove };
}

/** Every regular file under a directory, with its content. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      const file = path.join(entry.parentPath, entry.name);
      files[path.relative(dir, file)] = fs.readFileSync(file, 'utf8');
    }
  }
  return files;
}

test('a first install writes the units where Quadlet and systemd read them, reloads and enables the timer', async () => {
  const { root, host, run } = setup();
  const result = await run();
  assert.equal(Object.keys(snapshot(root)).sort(), [
    'etc/containers/systemd/poststack-postgres-backups.volume',
    'etc/containers/systemd/poststack-postgres-data.volume',
    'etc/containers/systemd/poststack-postgres.container',
    'etc/pg-quadlet/poststack-postgres-password.password',
    'etc/systemd/system/poststack-postgres-backup-full.service',
    'etc/systemd/system/poststack-postgres-backup-full.timer',
    'etc/systemd/system/poststack-postgres-backup.service',
    'etc/systemd/system/poststack-postgres-backup.timer',
  ]);
  assert.equal(result.files.map((file) => file.status), ['new', 'new', 'new', 'new', 'new', 'new', 'new']);
  assert.ok(result.changed);
  assert.equal(host.mutatingCalls(), [
    'podman secret create poststack-postgres-password -',
    'systemctl daemon-reload',
    'systemctl enable --now poststack-postgres-backup.timer',
    'systemctl enable --now poststack-postgres-backup-full.timer',
  ]);
});

test('a generated password is strong, stored for its owner only, shown once, and in no unit file', async () => {
  const { root, host, paths, run } = setup();
  const result = await run();
  const generated = result.generatedPassword;
  assert.ok(generated);
  assert.ok(generated.value.length >= 32, 'at least 32 characters');
  assert.is(result.secret, 'generated');
  assert.is(generated.file, path.join(paths.stateDir, 'poststack-postgres-password.password'));
  assert.is(fs.statSync(generated.file).mode & 0o777, 0o600);
  assert.is(fs.readFileSync(generated.file, 'utf8'), `${generated.value}\n`);
  assert.is(host.secrets.get('poststack-postgres-password'), generated.value);
  const create = host.calls.find((call) => call.command.startsWith('podman secret create'));
  assert.is(create?.input, generated.value, 'the password goes on standard input');
  for (const call of host.calls) assert.not.ok(call.command.includes(generated.value), `not in the arguments of ${call.command}`);
  for (const [file, content] of Object.entries(snapshot(root))) {
    if (!file.endsWith('.password')) assert.not.ok(content.includes(generated.value), `not in ${file}`);
  }
  const again = await run();
  assert.is(again.generatedPassword, undefined, 'shown once');
});

test('a given password becomes the secret through standard input, and nothing is generated', async () => {
  const { root, host, run } = setup();
  const password = `it's "a" $ecret; \\ ü`;
  const result = await run({ password: { kind: 'value', value: password } });
  assert.is(result.secret, 'created');
  assert.is(host.secrets.get('poststack-postgres-password'), password);
  assert.not.ok(Object.keys(snapshot(root)).some((file) => file.endsWith('.password')));
  for (const content of Object.values(snapshot(root))) assert.not.ok(content.includes(password));
});

test('an existing secret is kept as it is', async () => {
  const { host, run } = setup();
  host.secrets.set('poststack-postgres-password', 'kept');
  const result = await run({ password: { kind: 'value', value: 'other' } });
  assert.is(result.secret, 'exists');
  assert.is(host.secrets.get('poststack-postgres-password'), 'kept');
});

test('re-running with the same config changes nothing and says so', async () => {
  const { root, host, run } = setup();
  await run();
  const before = snapshot(root);
  host.calls.length = 0;
  const result = await run();
  assert.not.ok(result.changed);
  assert.equal(result.actions, []);
  assert.ok(result.files.every((file) => file.status === 'unchanged'));
  assert.equal(host.mutatingCalls(), []);
  assert.equal(snapshot(root), before);
});

test('a changed config rewrites only what changed, with a diff, and reloads', async () => {
  const { root, host, run } = setup();
  await run();
  host.calls.length = 0;
  const result = await run({}, { maxConnections: 250 });
  const container = result.files.find((file) => file.path.endsWith('.container'));
  assert.is(container?.status, 'changed');
  assert.match(container?.diff ?? '', /-Environment=POSTGRES_MAX_CONNECTIONS=100\n\+Environment=POSTGRES_MAX_CONNECTIONS=250/);
  assert.equal(result.files.filter((file) => file.status === 'changed').length, 1);
  assert.equal(host.mutatingCalls(), ['systemctl daemon-reload']);
  assert.match(snapshot(root)['etc/containers/systemd/poststack-postgres.container'] ?? '', /POSTGRES_MAX_CONNECTIONS=250/);
  assert.equal(result.stale, [], 'nothing runs, so nothing is stale');
});

test('--dry-run reports every action and writes or changes nothing', async () => {
  const { root, host, run } = setup();
  const result = await run({ dryRun: true });
  assert.equal(snapshot(root), {});
  assert.equal(host.mutatingCalls(), []);
  assert.equal(host.secrets.size, 0);
  assert.ok(result.dryRun);
  const expected = ['write ', 'store a generated password', 'podman secret create', 'systemctl daemon-reload', 'systemctl enable --now poststack-postgres-backup.timer', 'systemctl enable --now poststack-postgres-backup-full.timer'];
  assert.is(result.actions.length, expected.length, result.actions.join('\n'));
  expected.forEach((prefix, index) => assert.ok(result.actions[index]?.startsWith(prefix), `${result.actions[index]} starts with ${prefix}`));
  assert.is(result.generatedPassword, undefined);
});

test('a failure half-way through writing leaves every previous file as it was', async () => {
  const { root, run } = setup();
  await run();
  const before = snapshot(root);
  try {
    // Two files change (the container and the timer): the second rename fails.
    await run({ failAfterFiles: 1 }, { maxConnections: 250, sharedBuffers: '1GB', backup: { schedule: '0 4 * * *' }, port: 6000 });
    assert.unreachable('the simulated failure must surface');
  } catch (error) {
    assert.match((error as Error).message, /simulated failure after 1/);
  }
  assert.equal(snapshot(root), before, 'old content everywhere, and no temporary file left');
});

test('a first install that fails half-way leaves no unit file behind', async () => {
  const { root, run } = setup();
  await run({ failAfterFiles: 3 }).then(
    () => assert.unreachable('the simulated failure must surface'),
    (error: Error) => assert.match(error.message, /simulated failure after 3/),
  );
  assert.equal(Object.keys(snapshot(root)), []);
});

test('a file pg-quadlet did not write is not overwritten without --force', async () => {
  const { root, paths, run } = setup();
  const foreign = path.join(paths.systemdDir, 'poststack-postgres-backup.timer');
  fs.mkdirSync(path.dirname(foreign), { recursive: true });
  fs.writeFileSync(foreign, '[Timer]\nOnCalendar=hourly\n');
  try {
    await run();
    assert.unreachable();
  } catch (error) {
    assert.ok(isPgQuadletError(error, 'PG_QUADLET_REFUSED'));
    assert.match(error.message, /did not generate: .*poststack-postgres-backup\.timer .*--force/);
  }
  assert.equal(Object.keys(snapshot(root)), ['etc/systemd/system/poststack-postgres-backup.timer'], 'nothing else written');
  await run({ force: true });
  assert.match(fs.readFileSync(foreign, 'utf8'), /^# Generated by pg-quadlet/);
});

test('a retry after an install that failed before reloading systemd reloads it, though no file changed', async () => {
  const { host, run } = setup();
  host.failures.set('podman secret create', 'Error: the secret store is read-only');
  await run().then(
    () => assert.unreachable('the failing secret must surface'),
    (error: Error) => assert.match(error.message, /podman secret create .*read-only/),
  );
  host.failures.clear();
  host.calls.length = 0;
  const retry = await run();
  assert.ok(retry.files.every((file) => file.status === 'unchanged'));
  assert.ok(host.mutatingCalls().includes('systemctl daemon-reload'));
});

test('--now starts the service (systemctl waits until it is healthy)', async () => {
  const { host, run } = setup();
  const progress: string[] = [];
  await run({ now: true, onProgress: (line) => progress.push(line) });
  assert.ok(host.mutatingCalls().includes('systemctl start poststack-postgres.service'));
  assert.ok(progress.some((line) => line.includes('waits until PostgreSQL is healthy')));
  assert.not.ok(host.mutatingCalls().some((call) => call.includes('-pool.service')), 'no pool to start');
});

test('--now with the pool on starts PgBouncer after PostgreSQL', async () => {
  const { host, run } = setup({ pool: { enabled: true } });
  await run({ now: true });
  const starts = host.mutatingCalls().filter((call) => call.startsWith('systemctl start'));
  assert.equal(starts, ['systemctl start poststack-postgres.service', 'systemctl start poststack-postgres-pool.service']);
});

test('rootless installs go to the user\'s directories, use systemctl --user and say when linger is off', async () => {
  const { root, host, run } = setup({ rootless: true });
  host.linger = false;
  const busless = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-quadlet-runtime-'));
  const result = await run({ env: { XDG_RUNTIME_DIR: busless } });
  assert.ok(result.warnings.some((warning) => warning.includes(`no user D-Bus at ${busless}/bus: install dbus-user-session`)));
  assert.ok(Object.keys(snapshot(root)).includes('home/ann/.config/containers/systemd/poststack-postgres.container'));
  assert.ok(Object.keys(snapshot(root)).includes('home/ann/.config/systemd/user/poststack-postgres-backup.timer'));
  assert.ok(host.mutatingCalls().includes('systemctl --user daemon-reload'));
  assert.ok(result.warnings.some((warning) => /lingering is off .*loginctl enable-linger/.test(warning)));
  host.linger = true;
  fs.writeFileSync(path.join(busless, 'bus'), '');
  assert.equal((await run({ env: { XDG_RUNTIME_DIR: busless } })).warnings, []);
});

test('uninstall stops and removes the units, keeps volumes, secret and foreign files; purge removes them', async () => {
  const { root, host, paths, config, run, remove } = setup();
  await run();
  host.volumes.add(config.dataVolume).add(config.backupVolume);
  const foreign = path.join(paths.quadletDir, 'other.container');
  fs.writeFileSync(foreign, '[Container]\nImage=x\n');
  const kept = await remove();
  assert.equal(kept.removed.length, 7);
  assert.equal(Object.keys(snapshot(root)).sort(), ['etc/containers/systemd/other.container', 'etc/pg-quadlet/poststack-postgres-password.password']);
  assert.ok(host.secrets.has(config.passwordSecret));
  assert.ok(host.volumes.has(config.dataVolume));
  assert.ok(host.mutatingCalls().includes('systemctl stop poststack-postgres.service'));
  assert.ok(host.mutatingCalls().includes('systemctl disable --now poststack-postgres-backup.timer'));

  await run();
  const purged = await remove({ purge: true, yes: true });
  assert.equal(host.volumes.size, 0);
  assert.not.ok(host.secrets.has(config.passwordSecret));
  assert.equal(Object.keys(snapshot(root)), ['etc/containers/systemd/other.container']);
  assert.ok(purged.actions.some((action) => action.includes('podman volume rm poststack-postgres-data')));
});

test('a purge removes the backup secrets but keeps the passphrase file, which an off-host copy still needs, and says so', async () => {
  const s3 = { endpoint: 's3.example.com', bucket: 'backups', region: 'eu-central-1' };
  const { root, host, config, run, remove } = setup({ backup: { encrypt: true, s3 } });
  const env = { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' };
  const installed = await run({ env });
  const purged = await remove({ purge: true, yes: true });
  assert.not.ok(host.secrets.has(config.backup.passphraseSecret));
  assert.not.ok(host.secrets.has('poststack-postgres-s3-keys'));
  assert.is(purged.keptPassphrase, installed.generatedPassphrase?.file);
  assert.ok(Object.keys(snapshot(root)).includes('etc/pg-quadlet/poststack-postgres-backup-passphrase.passphrase'));
  assert.match(formatUninstall(purged), /Kept \S+\.passphrase: the passphrase of the encrypted backups, which an off-host copy still needs/);
});

test('uninstall --dry-run changes nothing', async () => {
  const { root, host, config, run, remove } = setup();
  await run();
  host.volumes.add(config.dataVolume).add(config.backupVolume);
  const before = snapshot(root);
  host.calls.length = 0;
  const result = await remove({ purge: true, dryRun: true });
  assert.equal(result.actions.length, 15, result.actions.join('\n'));
  assert.equal(snapshot(root), before);
  assert.equal(host.mutatingCalls(), []);
});



const staleSuite = 'a changed config of a running service';

test(`${staleSuite}: install names the stale unit and how to apply it; --now restarts it and says so`, async () => {
  const { host, run } = setup();
  await run({ now: true });
  const changed = await run({}, { maxConnections: 150 });
  assert.equal(changed.stale, ['poststack-postgres.service']);
  assert.ok(changed.warnings.some((warning) => /poststack-postgres\.service runs on the units as they were: apply the change with pg-quadlet install --now/.test(warning)), changed.warnings.join('\n'));
  host.calls.length = 0;
  const applied = await run({ now: true }, { maxConnections: 175 });
  assert.equal(host.mutatingCalls(), ['systemctl daemon-reload', 'systemctl restart poststack-postgres.service'], 'files are written in-process: no command');
  assert.equal(applied.restarted, ['poststack-postgres.service']);
  assert.ok(applied.actions.includes('systemctl restart poststack-postgres.service (waits until PostgreSQL is healthy)'), applied.actions.join('\n'));
  const again = await run({ now: true }, { maxConnections: 175 });
  assert.equal([again.changed, again.restarted, again.stale], [false, [], []], 'nothing more to apply');
});

test(`${staleSuite}: a change written without --now is applied by the next install --now, though no file changes then`, async () => {
  const { host, run } = setup();
  await run({ now: true });
  host.started.set('poststack-postgres.service', Math.floor(Date.now() / 1000) - 60);
  await run({}, { maxConnections: 150 });
  host.calls.length = 0;
  const applied = await run({ now: true }, { maxConnections: 150 });
  assert.ok(applied.files.every((file) => file.status === 'unchanged'));
  assert.equal(host.mutatingCalls(), ['systemctl restart poststack-postgres.service']);
  assert.equal(applied.restarted, ['poststack-postgres.service']);
});

test(`${staleSuite}: with the pool on, one restart of PostgreSQL restarts both; a change of the pool alone restarts only the pool`, async () => {
  const { host, run } = setup({ pool: { enabled: true } });
  await run({ now: true });
  host.calls.length = 0;
  const both = await run({ now: true }, { pool: { enabled: true }, maxConnections: 150 });
  assert.equal(host.mutatingCalls().filter((call) => /start|restart/.test(call)), ['systemctl restart poststack-postgres.service']);
  assert.equal(both.restarted, ['poststack-postgres.service', 'poststack-postgres-pool.service']);
  host.calls.length = 0;
  const pool = await run({ now: true }, { pool: { enabled: true, mode: 'session' }, maxConnections: 150 });
  assert.equal(host.mutatingCalls().filter((call) => /start|restart/.test(call)), ['systemctl restart poststack-postgres-pool.service']);
  assert.equal(pool.restarted, ['poststack-postgres-pool.service']);
});

test('a database or role the cluster was not made for is refused with the ways forward, before anything is written; --force accepts a rename', async () => {
  const { root, host, config, run } = setup();
  host.volumes.add(config.dataVolume);
  host.files.set('/var/lib/containers/storage/volumes/poststack-postgres-data/_data/pgdata/pg-quadlet-identity', 'database=poststack\nuser=poststack\n');
  const error = await run({}, { database: 'otherdb' }).then(() => undefined, (e: unknown) => e);
  assert.ok(isPgQuadletError(error, 'PG_QUADLET_REFUSED'), String(error));
  assert.match(
    (error as Error).message,
    /holds a cluster made for database "poststack" owned by "poststack", and the config sets database "otherdb" \(the cluster's is "poststack"\): the server would refuse to start\. Set database and user back; or rename them in the cluster first \(ALTER DATABASE poststack RENAME TO otherdb; ALTER ROLE poststack RENAME TO poststack\) and install again with --force/,
  );
  assert.equal(Object.keys(snapshot(root)), [], 'nothing written');
  assert.ok((await run()).changed, 'the same identity installs');
  const forced = await run({ force: true }, { database: 'otherdb' });
  assert.ok(forced.files.some((file) => file.status === 'changed'));
});

test('a rootless install reads the identity through podman unshare (PGDATA belongs to the container\'s user)', async () => {
  const { host, config, run } = setup({ rootless: true });
  host.volumes.add(config.dataVolume);
  host.files.set('/var/lib/containers/storage/volumes/poststack-postgres-data/_data/pgdata/pg-quadlet-identity', 'database=poststack\nuser=poststack\n');
  await run({ env: { XDG_RUNTIME_DIR: '/nonexistent' } }, { rootless: true, user: 'someone' }).then(
    () => assert.unreachable('refused'),
    (error: Error) => assert.match(error.message, /config sets user "someone" \(the cluster's is "poststack"\)/),
  );
  assert.ok(host.calls.some((call) => call.command.startsWith('podman unshare cat ')));
});

test('backup.encrypt: a passphrase is generated, stored for its owner only, shown once, and reaches Podman on standard input only', async () => {
  const { root, host, paths, run } = setup({ backup: { encrypt: true } });
  const result = await run();
  const passphrase = result.generatedPassphrase;
  assert.ok(passphrase);
  assert.ok(passphrase.value.length >= 64);
  assert.is(passphrase.file, path.join(paths.stateDir, 'poststack-postgres-backup-passphrase.passphrase'));
  assert.is(fs.statSync(passphrase.file).mode & 0o777, 0o600);
  assert.is(host.secrets.get('poststack-postgres-backup-passphrase'), passphrase.value);
  for (const call of host.calls) assert.not.ok(call.command.includes(passphrase.value), `not in the arguments of ${call.command}`);
  const units = Object.entries(snapshot(root)).filter(([file]) => !file.endsWith('.passphrase') && !file.endsWith('.password'));
  for (const [file, content] of units) assert.not.ok(content.includes(passphrase.value), `not in ${file}`);
  assert.match(formatInstall(result), /Without it the encrypted backups cannot be read/);
  assert.is((await run()).generatedPassphrase, undefined, 'shown once; the secret is kept');
});

test('backup.s3: the keys come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY on standard input; without them install refuses with nothing written', async () => {
  const s3 = { endpoint: 's3.example.com', bucket: 'backups', region: 'eu-central-1' };
  const { root, host, run } = setup({ backup: { s3 } });
  const error = await run().then(() => undefined, (e: unknown) => e);
  assert.ok(isPgQuadletError(error, 'PG_QUADLET_REFUSED'), String(error));
  assert.match((error as Error).message, /backup\.s3: the Podman secret poststack-postgres-s3-keys with the S3 keys does not exist: give them to install as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY .*podman secret create poststack-postgres-s3-keys -\); nothing was written$/);
  assert.equal(Object.keys(snapshot(root)), []);

  await run({ env: { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalr/EXAMPLEKEY' } });
  assert.is(host.secrets.get('poststack-postgres-s3-keys'), 'AKIAEXAMPLE\nwJalr/EXAMPLEKEY\n');
  for (const call of host.calls) assert.not.ok(call.command.includes('wJalr'), `not in the arguments of ${call.command}`);
  for (const content of Object.values(snapshot(root))) assert.not.ok(content.includes('wJalr'));
  const unit = fs.readFileSync(path.join(root, 'etc/containers/systemd/poststack-postgres.container'), 'utf8');
  assert.match(unit, /^Secret=poststack-postgres-s3-keys,type=mount,target=backup-s3-keys,uid=999,gid=999,mode=0400$/m);
  assert.match(unit, /^Environment=PGBACKREST_REPO2_S3_BUCKET=backups$/m);
});

test('backup.encrypt that disagrees with the repository on the backup volume is refused before anything is written', async () => {
  const { root, host, config, run } = setup();
  host.volumes.add(config.backupVolume);
  const info = '/var/lib/containers/storage/volumes/poststack-postgres-backups/_data/pgbackrest/archive/main/archive.info';
  host.files.set(info, '[backrest]\nbackrest-format=5\n');
  const error = await run({}, { backup: { encrypt: true } }).then(() => undefined, (e: unknown) => e);
  assert.match(String(error), /holds unencrypted backups, and pgBackRest cannot encrypt a repository that holds backups/);
  assert.equal(Object.keys(snapshot(root)), []);
  host.files.set(info, 'Salted__\u0001\u0002');
  assert.match(String(await run().then(() => undefined, (e: unknown) => e)), /is encrypted: set backup\.encrypt = true/);
  assert.ok((await run({}, { backup: { encrypt: true } })).changed, 'the matching setting installs');
});

test('a schedule systemd refuses on this host is refused before anything is written', async () => {
  const { root, host, run } = setup();
  host.failures.set('systemd-analyze calendar --iterations=1 *-*-* 02:00:00', 'Failed to parse calendar specification');
  const error = await run().then(() => undefined, (e: unknown) => e);
  assert.match((error as Error).message, /^backup\.schedule: systemd refuses the calendar expression "\*-\*-\* 02:00:00" \(Failed to parse calendar specification\)/);
  assert.equal(Object.keys(snapshot(root)), []);
});

test('--dry-run on a host without podman or systemd shows the plan and says what is missing; a real run refuses with nothing written', async () => {
  const { root, host, run } = setup();
  host.missing.add('podman').add('systemctl');
  const planned = await run({ dryRun: true });
  assert.ok(planned.actions.length >= 4, planned.actions.join('\n'));
  assert.ok(planned.warnings.some((warning) => /^podman is not installed here: the plan assumes/.test(warning)), planned.warnings.join('\n'));
  assert.ok(planned.warnings.some((warning) => /^systemctl is not installed here/.test(warning)));
  const refused = await run().then(() => undefined, (e: Error) => e);
  assert.match(refused?.message ?? '', /^podman is not installed here: pg-quadlet needs Podman 4\.6 or newer/);
  assert.equal(Object.keys(snapshot(root)), []);
});
test.run();

test('a missing localhost/ image is built from the shipped image/ first, with progress per build step; nothing else happens when the build fails', async () => {
  const { root, host, run } = setup();
  host.images.clear();
  const lines: string[] = [];
  const result = await run({ onProgress: (line) => lines.push(line) });
  const build = host.mutatingCalls()[0] ?? '';
  assert.match(build, /^podman build --tag=localhost\/postgres-debian:15 --build-arg=BASE_IMAGE=docker\.io\/library\/debian:bookworm-slim --build-arg=PG_MAJOR=15 --build-arg=CERTGROUP_GID=990 --file=\S+\/image\/Containerfile \S+\/image$/);
  assert.ok(fs.existsSync(build.split(' ').at(-1) + '/Containerfile'), 'the context is the package\'s own image/');
  assert.ok(lines.some((line) => /^\[1\/2\] STEP 2\/2: RUN apt-get install \(\d+ s\)$/.test(line)), lines.join('\n'));
  assert.not.ok(lines.some((line) => line.startsWith('Getting packages')), 'a build step, not every line the build prints');
  assert.match(result.actions[0] ?? '', /^podman build .* \(minutes: Debian packages are downloaded and installed\)$/);

  const failing = setup();
  failing.host.images.clear();
  failing.host.failures.set('podman build', 'Error: building at STEP "RUN apt-get update": exit status 100');
  const error = await failing.run().catch((caught: unknown) => caught);
  assert.ok(isPgQuadletError(error), String(error));
  assert.match((error as Error).message, /exit status 100/);
  assert.equal(snapshot(failing.root), {}, 'no unit file, no password file');
  assert.equal(failing.host.mutatingCalls(), [failing.host.mutatingCalls()[0]], 'the build was the only change tried');
  assert.ok(Object.keys(snapshot(root)).length > 0);
});

test('--no-build refuses a missing image with the command that builds it; a registry image is left to Podman to pull', async () => {
  const { root, host, run } = setup();
  host.images.clear();
  const error = await run({ build: false }).catch((caught: unknown) => caught);
  assert.ok(isPgQuadletError(error, 'PG_QUADLET_REFUSED'), String(error));
  assert.match((error as Error).message, /the image localhost\/postgres-debian:15 does not exist and --no-build was given: build it with pg-quadlet image build \(podman build --tag=localhost\/postgres-debian:15 .*\); nothing was written/);
  assert.equal(snapshot(root), {});
  assert.equal(host.mutatingCalls(), []);

  const registry = setup({ image: 'ghcr.io/example/postgres:15' });
  const result = await registry.run();
  assert.ok(!registry.host.mutatingCalls().some((call) => call.startsWith('podman build')));
  assert.ok(result.warnings.includes('the image ghcr.io/example/postgres:15 is not on this host: Podman pulls it at the first start'), result.warnings.join('\n'));
});

test('update.schedule: install writes the update service with this pg-quadlet and its config file, and enables the timer', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-quadlet-install-'));
  const host = new FakeHost();
  const context = { ...contextFor(resolveConfig({ update: { schedule: '0 5 * * tue' } }), { runner: host, root, env: { HOME: '/home/ann' } }), pgQuadlet: ['/usr/bin/node', '/opt/pg-quadlet/dist/bin/pg-quadlet.js'], configFile: 'pg-quadlet.ini' };
  await install(context);
  const service = fs.readFileSync(path.join(root, 'etc/systemd/system/poststack-postgres-update.service'), 'utf8');
  assert.match(service, new RegExp(`^ExecStart=/usr/bin/node /opt/pg-quadlet/dist/bin/pg-quadlet\\.js --config ${path.resolve('pg-quadlet.ini').replace(/[.]/g, '\\.')} update$`, 'm'));
  assert.ok(host.mutatingCalls().includes('systemctl enable --now poststack-postgres-update.timer'), host.mutatingCalls().join('\n'));
});
