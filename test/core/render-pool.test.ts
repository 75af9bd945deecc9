import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isConfigError, renderUnits, resolveConfig, type RenderedUnit } from '../../lib/index.js';

const lines = (content: string, key: string) => content.split('\n').filter((line) => line.startsWith(`${key}=`)).map((line) => line.slice(key.length + 1));
function file(units: RenderedUnit[], name: string): string {
  const unit = units.find((candidate) => candidate.fileName === name);
  if (!unit) throw new Error(`no ${name} rendered`);
  return unit.content;
}

test('the pool is off by default, and its defaults are transaction mode on port 6432', () => {
  assert.not.ok(renderUnits().some((unit) => unit.fileName.includes('pool') || unit.fileName.endsWith('.network')));
  assert.equal(resolveConfig().pool, { enabled: false, port: 6432, mode: 'transaction', maxClientConn: 1000, defaultPoolSize: 20 });
});

test('with the pool on: a network shared by both containers, and a PgBouncer container', () => {
  const units = renderUnits({ pool: { enabled: true } });
  assert.equal(units.map(({ fileName, unitName }) => [fileName, unitName]), [
    ['poststack-postgres.container', 'poststack-postgres.service'],
    ['poststack-postgres-pool.container', 'poststack-postgres-pool.service'],
    ['poststack-postgres.network', 'poststack-postgres-network.service'],
    ['poststack-postgres-data.volume', 'poststack-postgres-data-volume.service'],
    ['poststack-postgres-backups.volume', 'poststack-postgres-backups-volume.service'],
    ['poststack-postgres-backup.service', 'poststack-postgres-backup.service'],
    ['poststack-postgres-backup-full.service', 'poststack-postgres-backup-full.service'],
    ['poststack-postgres-backup.timer', 'poststack-postgres-backup.timer'],
    ['poststack-postgres-backup-full.timer', 'poststack-postgres-backup-full.timer'],
  ]);
  assert.equal(lines(file(units, 'poststack-postgres.network'), 'NetworkName'), ['poststack-postgres']);
  assert.equal(lines(file(units, 'poststack-postgres.container'), 'Network'), ['poststack-postgres.network']);
  assert.equal(lines(file(units, 'poststack-postgres.container'), 'Wants'), ['poststack-postgres-pool.service'], 'starting PostgreSQL starts the pool');
  assert.equal(lines(file(renderUnits(), 'poststack-postgres.container'), 'Wants'), [], 'no pool, no Wants=');
  const pool = file(units, 'poststack-postgres-pool.container');
  assert.equal(lines(pool, 'Network'), ['poststack-postgres.network']);
  assert.equal(lines(pool, 'Exec'), ['/usr/local/bin/pool.sh']);
  assert.equal(lines(pool, 'PublishPort'), ['127.0.0.1:6432:6432']);
  assert.equal(lines(pool, 'HealthCmd'), ['/usr/local/bin/pool-health-check.sh']);
  assert.equal(lines(pool, 'StopSignal'), ['SIGINT']);
  assert.equal(lines(pool, 'HealthStartupCmd'), ['/usr/local/bin/pool-health-check.sh --wait 4']);
  for (const key of ['Requires', 'After', 'PartOf']) assert.equal(lines(pool, key), ['poststack-postgres.service'], key);
  assert.equal(lines(pool, 'Environment'), [
    'POSTGRES_DB=poststack',
    'POSTGRES_USER=poststack',
    'POSTGRES_PASSWORD_FILE=/run/secrets/postgres-password',
    'POOL_SERVER_HOST=poststack-postgres',
    'POOL_MODE=transaction',
    'POOL_MAX_CLIENT_CONN=1000',
    'POOL_DEFAULT_POOL_SIZE=20',
  ]);
  assert.equal(lines(pool, 'Secret'), ['poststack-postgres-password,type=mount,target=postgres-password,uid=999,gid=999,mode=0400']);
  assert.not.match(pool, /POSTGRES_PASSWORD=|Volume=.*\.volume/);
});

test('the pool follows TLS, the bind address and its own settings', () => {
  const units = renderUnits({ bindAddress: '0.0.0.0', tls: { domain: 'db.example.com' }, pool: { enabled: true, port: 7432, mode: 'session', maxClientConn: 5000, defaultPoolSize: 40 } });
  const pool = file(units, 'poststack-postgres-pool.container');
  assert.equal(lines(pool, 'PublishPort'), ['0.0.0.0:7432:6432']);
  assert.equal(lines(pool, 'Volume'), ['/data/certificates/db.example.com:/data/certificates/db.example.com:ro']);
  for (const expected of ['POOL_MODE=session', 'POOL_MAX_CLIENT_CONN=5000', 'POOL_DEFAULT_POOL_SIZE=40', 'DOMAIN=db.example.com']) {
    assert.ok(lines(pool, 'Environment').includes(expected), expected);
  }
});

const refusals: Array<[Record<string, unknown>, string, RegExp]> = [
  [{ pool: { enabled: true, port: 5432 } }, 'pool.port', /must differ from port/],
  [{ pool: { enabled: true, defaultPoolSize: 100 } }, 'pool.defaultPoolSize', /must be below maxConnections \(100\)/],
  [{ pool: { mode: 'sometimes' } }, 'pool.mode', /"transaction", "session" or "statement"/],
  [{ pool: { maxClientConn: 0 } }, 'pool.maxClientConn', /at least 1/],
  [{ pool: { enable: true } }, 'pool.enable', /did you mean "enabled"/],
];
for (const [input, path, message] of refusals) {
  test(`pool config ${JSON.stringify(input)} is refused at ${path}`, () => {
    try {
      renderUnits(input);
      assert.unreachable();
    } catch (error) {
      assert.ok(isConfigError(error));
      const issue = error.issues.find((candidate) => candidate.path === path);
      assert.ok(issue, JSON.stringify(error.issues));
      assert.match(issue.message, message);
    }
  });
}

test.run();
