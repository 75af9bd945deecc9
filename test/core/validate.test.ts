import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, isConfigError, renderUnits, resolveConfig, type PostgresServiceInput } from '../../lib/index.js';

function issuesOf(input: unknown): ConfigError['issues'] {
  try {
    resolveConfig(input as PostgresServiceInput);
  } catch (error) {
    if (isConfigError(error)) return error.issues;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be refused`);
}

test('defaults come from the spec, and names follow the service name', () => {
  const config = resolveConfig();
  assert.equal(
    {
      name: config.name,
      database: config.database,
      user: config.user,
      postgresVersion: config.postgresVersion,
      maxConnections: config.maxConnections,
      sharedBuffers: config.sharedBuffers,
      schedule: config.backup.schedule,
      keepDays: config.backup.keepDays,
      bind: `${config.bindAddress}:${config.port}`,
      podmanVersion: config.podmanVersion,
      rootless: config.rootless,
      tls: config.tls,
    },
    {
      name: 'poststack-postgres',
      database: 'poststack',
      user: 'poststack',
      postgresVersion: 15,
      maxConnections: 100,
      sharedBuffers: '256MB',
      schedule: '0 2 * * *',
      keepDays: 7,
      bind: '127.0.0.1:5432',
      podmanVersion: '5.4',
      rootless: false,
      tls: undefined,
    },
  );
  const billing = resolveConfig({ name: 'billing-db' });
  assert.equal([billing.dataVolume, billing.backupVolume, billing.passwordSecret], ['billing-db-data', 'billing-db-backups', 'billing-db-password']);
});

test('a partial nested object keeps the other defaults', () => {
  const config = resolveConfig({ backup: { keepDays: 30 }, tls: { domain: 'db.example.com' } });
  assert.is(config.backup.keepDays, 30);
  assert.is(config.backup.schedule, '0 2 * * *');
  assert.equal(config.tls, { domain: 'db.example.com', certificatesDir: '/data/certificates' });
});

// Each row: a bad input, the field that must be named, and words of the fix it must give.
const RULES: Array<[input: Record<string, unknown>, path: string, fix: RegExp]> = [
  [{ name: '' }, 'name', /1-63 characters/],
  [{ name: 'has space' }, 'name', /letters, digits/],
  [{ name: '-leading' }, 'name', /starting with a letter or digit/],
  [{ name: 'x'.repeat(64) }, 'name', /1-63 characters/],
  [{ name: '../etc' }, 'name', /letters, digits/],
  [{ name: 42 }, 'name', /text/],
  [{ passwordSecret: 'a/b' }, 'passwordSecret', /letters, digits/],
  [{ dataVolume: 'a:b' }, 'dataVolume', /letters, digits/],
  [{ backupVolume: 'poststack-postgres-data' }, 'backupVolume', /must differ from dataVolume/],
  [{ database: 'Poststack' }, 'database', /lower-case/],
  [{ database: 'a-b' }, 'database', /lower-case letters, digits and "_"/],
  [{ database: 'x"; DROP TABLE t; --' }, 'database', /lower-case/],
  [{ database: 'template1' }, 'database', /reserved/],
  [{ user: 'postgres' }, 'user', /reserved/],
  [{ user: 'pg_monitor' }, 'user', /reserved/],
  [{ user: 'a'.repeat(64) }, 'user', /1-63 characters/],
  [{ image: 'Localhost/X' }, 'image', /image reference/],
  [{ image: 'img:1 --privileged' }, 'image', /image reference/],
  [{ postgresVersion: 9 }, 'postgresVersion', /at least 13/],
  [{ port: 0 }, 'port', /at least 1/],
  [{ port: 65536 }, 'port', /at most 65535/],
  [{ port: 5432.5 }, 'port', /whole number/],
  [{ port: '5432' }, 'port', /must be a number/],
  [{ bindAddress: 'localhost' }, 'bindAddress', /IPv4 or IPv6 address/],
  [{ bindAddress: '256.0.0.1' }, 'bindAddress', /IPv4 or IPv6 address/],
  [{ bindAddress: '::1 --privileged' }, 'bindAddress', /IPv4 or IPv6/],
  [{ maxConnections: 1 }, 'maxConnections', /at least 5/],
  [{ maxConnections: 300000 }, 'maxConnections', /at most 262143/],
  [{ sharedBuffers: '256' }, 'sharedBuffers', /kB, MB, GB or TB/],
  [{ sharedBuffers: '256mb' }, 'sharedBuffers', /kB, MB, GB or TB/],
  [{ sharedBuffers: '64kB' }, 'sharedBuffers', /at least 128kB/],
  [{ sharedBuffers: '2048GB' }, 'sharedBuffers', /at most 1TB/],
  [{ settings: { max_connections: 10 } }, 'settings.max_connections', /set maxConnections instead/],
  [{ settings: { logging_collector: true } }, 'settings.logging_collector', /journal/],
  [{ settings: { 'Work-Mem': '8MB' } }, 'settings.Work-Mem', /not a PostgreSQL setting name/],
  [{ settings: { work_mem: null } }, 'settings.work_mem', /text, a number or true\/false/],
  [{ settings: ['work_mem=8MB'] }, 'settings', /object of PostgreSQL settings/],
  [{ initScripts: 'relative/dir' }, 'initScripts', /absolute path/],
  [{ initScripts: '/srv/../etc' }, 'initScripts', /without "\.\." segments/],
  [{ initScripts: '/srv/my schemas' }, 'initScripts', /absolute path of letters/],
  [{ tls: { domain: 'bad domain' } }, 'tls.domain', /domain name/],
  [{ tls: { domain: '../../etc' } }, 'tls.domain', /domain name/],
  [{ tls: { domain: 'db.example.com', certificatesDir: 'certs' } }, 'tls.certificatesDir', /absolute path/],
  [{ tls: { certificatesDir: '/certs' } }, 'tls.domain', /is required/],
  [{ backup: { schedule: '0 25 * * *' } }, 'backup.schedule', /hour 25 is out of range 0-23/],
  [{ backup: { schedule: '0 2 * * * *' } }, 'backup.schedule', /cron takes 5/],
  [{ backup: { keepDays: 0 } }, 'backup.keepDays', /at least 1/],
  [{ backup: { keepMin: 0 } }, 'backup.keepMin', /at least 1/],
  [{ backup: { enabled: 'yes' } }, 'backup.enabled', /true or false/],
  [{ backup: 'daily' }, 'backup', /./],
  [{ rootless: 'true' }, 'rootless', /true or false/],
  [{ podmanVersion: '4.5' }, 'podmanVersion', /from 4.6 to 5.x/],
  [{ podmanVersion: '6.0' }, 'podmanVersion', /from 4.6 to 5.x/],
  [{ podmanVersion: 'latest' }, 'podmanVersion', /major.minor/],
  [{ podmanVersion: '4.6', waitHealthy: true }, 'waitHealthy', /needs Podman 4.7 or newer .*leave waitHealthy unset/],
  [{ startTimeoutSec: 1 }, 'startTimeoutSec', /at least 10/],
  [{ stopTimeoutSec: 99999 }, 'stopTimeoutSec', /at most 3600/],
  [{ databse: 'x' }, 'databse', /did you mean "database"/],
  [{ maxConnection: 5 }, 'maxConnection', /did you mean "maxConnections"/],
  [{ backup: { keepDay: 3 } }, 'backup.keepDay', /did you mean "keepDays"/],
  [{ tls: { domian: 'x.example', domain: 'x.example' } }, 'tls.domian', /did you mean "domain"/],
  [{ zzzzzz: 1 }, 'zzzzzz', /not a config field; known fields: name, image/],
];

for (const [input, path, fix] of RULES) {
  test(`${JSON.stringify(input)} is refused at ${path}`, () => {
    const issues = issuesOf(input);
    const issue = issues.find((candidate) => candidate.path === path);
    assert.ok(issue, `no issue at ${path}; got ${JSON.stringify(issues)}`);
    assert.match(issue.message, fix);
    assert.is(issues.length, 1, `only the one problem is reported: ${JSON.stringify(issues)}`);
  });
}

test('every problem is reported at once, each naming its field and value', () => {
  const error = (() => {
    try {
      renderUnits({ port: 0, user: 'Bad', backup: { schedule: 'nope nope nope nope nope' } });
    } catch (caught) {
      return caught;
    }
  })();
  assert.ok(isConfigError(error));
  assert.ok(error instanceof ConfigError);
  assert.equal(error.issues.map((issue) => issue.path).sort(), ['backup.schedule', 'port', 'user']);
  assert.match(error.message, /3 problems/);
  assert.match(error.message, /port = 0: must be at least 1/);
  assert.match(error.message, /user = "Bad": /);
});

test('a control character anywhere is refused, in values and in setting names alike', () => {
  const attempts: Array<[Record<string, unknown>, string]> = [
    [{ name: 'pg\nExecStartPre=/bin/sh -c evil' }, 'name'],
    [{ image: 'localhost/pg:15\nPrivileged=true' }, 'image'],
    [{ settings: { work_mem: '8MB\nVolume=/:/host' } }, 'settings.work_mem'],
    [{ settings: { 'work_mem\nX': '8MB' } }, 'settings.work_mem\nX'],
    [{ tls: { domain: 'a.example\r\nVolume=/:/h' } }, 'tls.domain'],
    [{ backup: { schedule: '0 2 * * *\nOnCalendar=minutely' } }, 'backup.schedule'],
    [{ user: 'poststack\u0000' }, 'user'],
    [{ database: 'poststack\u001b[2J' }, 'database'],
  ];
  for (const [input, path] of attempts) {
    const issues = issuesOf(input);
    const issue = issues.find((candidate) => candidate.path === path);
    assert.ok(issue, `${JSON.stringify(input)} refused at ${path}: ${JSON.stringify(issues)}`);
    assert.match(issue.message, /control character/);
  }
});

test('input that is not an object is refused as a whole', () => {
  for (const input of [null, 'poststack', 42, ['name']]) {
    const issues = issuesOf(input);
    assert.equal(issues.map((issue) => issue.path), ['']);
  }
});

test('settings accept text, numbers and booleans under valid names', () => {
  const config = resolveConfig({ settings: { work_mem: '8MB', random_page_cost: 1.1, jit: false, 'pg_stat_statements.max': 10000 } });
  assert.equal(Object.keys(config.settings), ['work_mem', 'random_page_cost', 'jit', 'pg_stat_statements.max']);
});

test('IPv4 and IPv6 bind addresses are accepted', () => {
  for (const address of ['127.0.0.1', '0.0.0.0', '10.1.2.3', '::1', '::', 'fd00::5']) {
    assert.is(resolveConfig({ bindAddress: address }).bindAddress, address);
  }
});

test.run();
