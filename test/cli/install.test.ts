import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { install, InstallError, type InstallOptions } from '../../lib/commands/install.js';
import { uninstall } from '../../lib/commands/uninstall.js';
import { installPaths } from '../../lib/install-paths.js';
import { resolveConfig, type PostgresServiceInput } from '../../lib/index.js';
import { FakeHost } from '../support/fake-host.js';

function setup(input: PostgresServiceInput = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-quadlet-install-'));
  const config = resolveConfig(input);
  const host = new FakeHost();
  const paths = installPaths({ rootless: config.rootless, root, env: { HOME: '/home/ann' } });
  const run = (extra: Partial<InstallOptions> = {}, overrides: PostgresServiceInput = input) =>
    install({ config: resolveConfig(overrides), paths, runner: host, ...extra });
  return { root, config, host, paths, run };
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
    'etc/systemd/system/poststack-postgres-backup.service',
    'etc/systemd/system/poststack-postgres-backup.timer',
  ]);
  assert.equal(result.files.map((file) => file.status), ['new', 'new', 'new', 'new', 'new']);
  assert.ok(result.changed);
  assert.equal(host.mutatingCalls(), [
    'podman secret create poststack-postgres-password -',
    'systemctl daemon-reload',
    'systemctl enable --now poststack-postgres-backup.timer',
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
  assert.ok(result.warnings.some((warning) => warning.includes('systemctl restart poststack-postgres.service')));
});

test('--dry-run reports every action and writes or changes nothing', async () => {
  const { root, host, run } = setup();
  const result = await run({ dryRun: true });
  assert.equal(snapshot(root), {});
  assert.equal(host.mutatingCalls(), []);
  assert.equal(host.secrets.size, 0);
  assert.ok(result.dryRun);
  const expected = ['write ', 'store a generated password', 'podman secret create', 'systemctl daemon-reload', 'systemctl enable --now poststack-postgres-backup.timer'];
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
    assert.ok(error instanceof InstallError);
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
  const { root, host, paths, config, run } = setup();
  await run();
  host.volumes.add(config.dataVolume).add(config.backupVolume);
  const foreign = path.join(paths.quadletDir, 'other.container');
  fs.writeFileSync(foreign, '[Container]\nImage=x\n');
  const kept = await uninstall({ config, paths, runner: host });
  assert.equal(kept.removed.length, 5);
  assert.equal(Object.keys(snapshot(root)).sort(), ['etc/containers/systemd/other.container', 'etc/pg-quadlet/poststack-postgres-password.password']);
  assert.ok(host.secrets.has(config.passwordSecret));
  assert.ok(host.volumes.has(config.dataVolume));
  assert.ok(host.mutatingCalls().includes('systemctl stop poststack-postgres.service'));
  assert.ok(host.mutatingCalls().includes('systemctl disable --now poststack-postgres-backup.timer'));

  await run();
  const purged = await uninstall({ config, paths, runner: host, purge: true });
  assert.equal(host.volumes.size, 0);
  assert.not.ok(host.secrets.has(config.passwordSecret));
  assert.equal(Object.keys(snapshot(root)), ['etc/containers/systemd/other.container']);
  assert.ok(purged.actions.some((action) => action.includes('podman volume rm poststack-postgres-data')));
});

test('uninstall --dry-run changes nothing', async () => {
  const { root, host, config, paths, run } = setup();
  await run();
  const before = snapshot(root);
  host.calls.length = 0;
  const result = await uninstall({ config, paths, runner: host, purge: true, dryRun: true });
  assert.ok(result.actions.length >= 8);
  assert.equal(snapshot(root), before);
  assert.equal(host.mutatingCalls(), []);
});

test.run();
