import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigSourceError, defaultConfigFiles, loadConfig } from '../../lib/host/config-sources.js';
import { isConfigError } from '../../lib/core/errors.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-quadlet-config-'));
const write = (name: string, content: string) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
};

const INI = write(
  'config.ini',
  `name = billing
maxConnections = 200
rootless = true
sharedBuffers = 512MB

[backup]
schedule = 30 3 * * *
keepDays = 14

[tls]
domain = file.example.com

[settings]
work_mem = 8MB
log_line_prefix = "%m [%p] "
`,
);

test('a config file sets fields, typed by each field\'s default, with nested sections', () => {
  const { config, sources, file } = loadConfig({ file: INI, env: {} });
  assert.is(file, INI);
  assert.is(config.name, 'billing');
  assert.is(config.maxConnections, 200);
  assert.is(config.rootless, true);
  assert.equal(config.backup, { enabled: true, schedule: '30 3 * * *', type: 'diff', fullSchedule: '30 1 * * sun', keepDays: 14, keepMin: 3, randomizedDelaySec: 300, archiveTimeoutSec: 60, encrypt: false, passphraseSecret: 'billing-backup-passphrase' });
  assert.equal(config.settings, { work_mem: '8MB', log_line_prefix: '%m [%p] ' });
  assert.is(config.dataVolume, 'billing-data');
  assert.is(sources.maxConnections, INI);
  assert.is(sources['backup.keepDays'], INI);
});

test('an off-host repository from a config file: its own section, the port read as a number, the names following the service', () => {
  const file = write('s3.ini', `name = billing

[backup]
encrypt = true

[backup.s3]
endpoint = s3.example.com
bucket = billing-backups
region = eu-central-1
port = 9000
`);
  const { config } = loadConfig({ file, env: {} });
  assert.equal(config.backup.s3, { endpoint: 's3.example.com', bucket: 'billing-backups', region: 'eu-central-1', port: 9000, path: '/pg-quadlet/billing', keysSecret: 'billing-s3-keys', uriStyle: 'host' });
  assert.is(config.backup.encrypt, true);
  assert.is(config.backup.passphraseSecret, 'billing-backup-passphrase');
});

test('memory and cpus from a config file or --set: cpus read as a number, sharedBuffers then derived unless set', () => {
  const file = write('sized.ini', 'memory = 4GB\ncpus = 1.5\n');
  const { config, sources } = loadConfig({ file, env: {} });
  assert.equal([config.memory, config.cpus, config.sharedBuffers], ['4GB', 1.5, '1GB']);
  assert.is(sources.sharedBuffers, undefined, 'derived, not set by a source');
  const flags = loadConfig({ sets: ['memory=2GB', 'cpus=2'], env: { POSTGRES_SHARED_BUFFERS: '256MB' } }).config;
  assert.equal([flags.memory, flags.cpus, flags.sharedBuffers], ['2GB', 2, '256MB']);
  assert.throws(
    () => loadConfig({ sets: ['memory=1GB', 'cpus=16'], env: {} }),
    (error: unknown) => isConfigError(error) && /memory = "1GB": is too small for this server.*\(set by --set memory\)/.test(error.message),
  );
});

test('precedence: defaults < file < the spec\'s environment variables < --set', () => {
  const env = { POSTGRES_DB: 'from_env', POSTGRES_USER: 'env_user', POSTGRES_MAX_CONNECTIONS: '300', POSTGRES_SHARED_BUFFERS: '1GB', DOMAIN: 'env.example.com', BACKUP_SCHEDULE: '0 4 * * *' };
  const { config, sources } = loadConfig({ file: INI, env, sets: ['maxConnections=400', 'backup.keepDays=30', 'settings.jit=off'] });
  assert.is(config.database, 'from_env');
  assert.is(sources.database, 'environment POSTGRES_DB');
  assert.is(config.user, 'env_user');
  assert.is(config.maxConnections, 400);
  assert.is(sources.maxConnections, '--set maxConnections');
  assert.is(config.sharedBuffers, '1GB');
  assert.is(config.tls?.domain, 'env.example.com');
  assert.is(sources['tls.domain'], 'environment DOMAIN');
  assert.is(config.backup.schedule, '0 4 * * *');
  assert.is(config.backup.keepDays, 30);
  assert.is(config.settings.jit, 'off');
  assert.is(config.port, 5432);
  assert.is(sources.port, undefined, 'untouched fields keep their default');
});

test('an empty environment variable is ignored', () => {
  assert.is(loadConfig({ env: { POSTGRES_DB: '' }, file: write('empty.ini', '') }).config.database, 'poststack');
});

test('unknown keys in the file are errors naming the nearest field and the file', () => {
  const file = write('typo.ini', 'databse = app\n[backup]\nkeepDay = 3\n');
  try {
    loadConfig({ file, env: {} });
    assert.unreachable();
  } catch (error) {
    assert.ok(isConfigError(error));
    const messages = error.issues.map((issue) => `${issue.path}: ${issue.message}`);
    assert.ok(messages.some((m) => m.startsWith('databse:') && m.includes('did you mean "database"') && m.includes(file)), messages.join('\n'));
    assert.ok(messages.some((m) => m.startsWith('backup.keepDay:') && m.includes('did you mean "keepDays"')), messages.join('\n'));
  }
});

test('a bad value names the source to fix: file, variable or flag', () => {
  const cases: Array<[Parameters<typeof loadConfig>[0], RegExp]> = [
    [{ file: write('bad.ini', 'port = 99999\n'), env: {} }, /port = 99999: must be at most 65535 .*set by .*bad\.ini/],
    [{ env: { POSTGRES_MAX_CONNECTIONS: 'lots' }, file: write('none.ini', '') }, /maxConnections = "lots": must be a number .*set by environment POSTGRES_MAX_CONNECTIONS/],
    [{ env: {}, file: write('none2.ini', ''), sets: ['backup.schedule=0 25 * * *'] }, /hour 25 .*set by --set backup\.schedule/],
  ];
  for (const [options, expected] of cases) {
    assert.throws(() => loadConfig(options), (error: unknown) => isConfigError(error) && expected.test(error.message));
  }
});

test('a JSON config file is read too (the published JSON Schema describes it)', () => {
  const file = write('config.json', JSON.stringify({ name: 'jsondb', backup: { keepDays: 9 } }));
  const { config } = loadConfig({ file, env: {} });
  assert.is(config.name, 'jsondb');
  assert.is(config.backup.keepDays, 9);
});

test('a missing or unreadable named file, bad JSON, or a --set without "=" is a clear error', () => {
  assert.throws(() => loadConfig({ file: path.join(dir, 'nope.ini') }), (e: unknown) => e instanceof ConfigSourceError && /cannot read config file .*nope\.ini: ENOENT/.test(e.message));
  assert.throws(() => loadConfig({ file: write('bad.json', '{') }), (e: unknown) => e instanceof ConfigSourceError && /not valid JSON/.test(e.message));
  assert.throws(() => loadConfig({ sets: ['maxConnections'], env: {}, file: write('n.ini', '') }), (e: unknown) => e instanceof ConfigSourceError && /write field=value/.test(e.message));
});

test('without --config, ./pg-quadlet.ini then the system (or user) config file is used', () => {
  assert.equal(defaultConfigFiles({ rootless: false, env: {} }), [path.resolve('pg-quadlet.ini'), '/etc/pg-quadlet/config.ini']);
  assert.equal(defaultConfigFiles({ rootless: true, env: { HOME: '/home/ann' } }), [path.resolve('pg-quadlet.ini'), '/home/ann/.config/pg-quadlet/config.ini']);
  assert.equal(defaultConfigFiles({ rootless: false, root: '/tmp/r', env: {} })[1], '/tmp/r/etc/pg-quadlet/config.ini');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-quadlet-root-'));
  fs.mkdirSync(path.join(root, 'etc/pg-quadlet'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/pg-quadlet/config.ini'), 'port = 6000\n');
  assert.is(loadConfig({ root, env: {} }).config.port, 6000);
});

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
test.run();
