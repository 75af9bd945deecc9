import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { status } from '../../lib/commands/status.js';
import { connectionUrl, url } from '../../lib/commands/url.js';
import { renderUnits, resolveConfig } from '../../lib/index.js';
import { sandboxMissing, withSandbox, type Sandbox } from '../image/sandbox.js';
import { FakeHost } from '../support/fake-host.js';
import { skipUnless } from '../support/skip.js';

const urls = suite('url');

urls('the connection string masks the password unless asked, and points where clients can connect', async () => {
  const host = new FakeHost();
  host.secrets.set('poststack-postgres-password', 'p@ss:w/rd?&=');
  const config = resolveConfig();
  assert.is(connectionUrl(config), 'postgresql://poststack:***@127.0.0.1:5432/poststack?sslmode=disable');
  assert.is(await url(config, host), 'postgresql://poststack:***@127.0.0.1:5432/poststack?sslmode=disable');
  assert.is(await url(config, host, { showPassword: true }), 'postgresql://poststack:p%40ss%3Aw%2Frd%3F%26%3D@127.0.0.1:5432/poststack?sslmode=disable');
  assert.is(connectionUrl(resolveConfig({ tls: { domain: 'db.example.com' }, port: 6543 })), 'postgresql://poststack:***@db.example.com:6543/poststack?sslmode=verify-full');
  assert.is(connectionUrl(resolveConfig({ bindAddress: '0.0.0.0' })), 'postgresql://poststack:***@127.0.0.1:5432/poststack?sslmode=disable');
  assert.is(connectionUrl(resolveConfig({ bindAddress: '::' })), 'postgresql://poststack:***@[::1]:5432/poststack?sslmode=disable');
  assert.equal(host.calls.map((call) => call.command), ['podman secret inspect --showsecret --format {{.SecretData}} poststack-postgres-password']);
});

urls('--pooled points at PgBouncer, and says how to turn the pool on when it is off', async () => {
  const host = new FakeHost();
  assert.is(await url(resolveConfig({ pool: { enabled: true, port: 7432 } }), host, { pooled: true }), 'postgresql://poststack:***@127.0.0.1:7432/poststack?sslmode=disable');
  try {
    await url(resolveConfig(), host, { pooled: true });
    assert.unreachable();
  } catch (error) {
    assert.match((error as Error).message, /the pool is off: enable it with pool\.enabled = true/);
  }
});

urls.run();

const live = skipUnless(suite('status against a real PostgreSQL'), sandboxMissing(), 'status tests against PostgreSQL 15');

function runningHost(): FakeHost {
  const host = new FakeHost();
  for (const unit of renderUnits()) {
    host.loaded.add(unit.unitName);
    host.active.add(unit.unitName);
  }
  return host;
}

async function withServer(body: (box: Sandbox) => Promise<void>): Promise<void> {
  await withSandbox(async (box) => {
    await box.startReady();
    await body(box);
  });
}

live('a running, healthy service reports healthy, with live facts from the database', async () => {
  await withServer(async (box) => {
    await box.query('CREATE TABLE t AS SELECT generate_series(1, 1000) AS n');
    await box.query('SELECT count(*) FROM t');
    const result = await status({ config: resolveConfig(), runner: runningHost(), connection: { host: '127.0.0.1', port: box.port, user: 'poststack', database: 'poststack', password: box.password } });
    assert.equal(result.problems, []);
    assert.ok(result.healthy);
    assert.is(result.health, 'healthy');
    assert.equal(result.timer, { unit: 'poststack-postgres-backup.timer', active: 'active', lastRun: 'Fri 2026-11-27 02:00:03 UTC', nextRun: 'Sat 2026-11-28 02:03:12 UTC', lastResult: 'success' });
    const db = result.database;
    assert.ok(db);
    assert.match(db.version, /^15\./);
    assert.is(db.maxConnections, 100);
    assert.ok(db.connections >= 1);
    assert.ok(db.sizeBytes > 1_000_000);
    assert.ok(db.uptimeSeconds >= 0 && db.uptimeSeconds < 600);
    assert.ok(db.cacheHitRatio !== null && db.cacheHitRatio > 0 && db.cacheHitRatio <= 1);
    assert.ok(db.topStatements?.some((statement) => statement.query.includes('CREATE TABLE t')), JSON.stringify(db.topStatements));
    assert.not.ok(db.topStatements?.some((statement) => statement.query === '<insufficient privilege>'), 'only statements the role may read');
  });
});

live('a stopped service, a failing health check or an unreachable database is reported unhealthy, with reasons', async () => {
  await withServer(async (box) => {
    const connection = { host: '127.0.0.1', port: box.port, user: 'poststack', database: 'poststack', password: box.password };
    const unhealthy = runningHost();
    unhealthy.health = 'unhealthy';
    const sick = await status({ config: resolveConfig(), runner: unhealthy, connection });
    assert.not.ok(sick.healthy);
    assert.ok(sick.problems.some((problem) => problem.includes('health check says unhealthy')));

    const wrongPassword = await status({ config: resolveConfig(), runner: runningHost(), connection: { ...connection, password: 'wrong' } });
    assert.not.ok(wrongPassword.healthy);
    assert.ok(wrongPassword.problems.some((problem) => /database did not answer: password authentication failed/.test(problem)), wrongPassword.problems.join('\n'));
  });
  const stopped = new FakeHost();
  for (const unit of renderUnits()) stopped.loaded.add(unit.unitName);
  stopped.health = undefined;
  const down = await status({ config: resolveConfig(), runner: stopped });
  assert.not.ok(down.healthy);
  assert.ok(down.problems.includes('poststack-postgres.service is inactive (dead)'));
  assert.ok(down.problems.some((problem) => problem.includes('backups are not scheduled')));
  assert.is(down.database, null);

  const missing = await status({ config: resolveConfig(), runner: new FakeHost() });
  assert.ok(missing.problems.some((problem) => problem.includes('poststack-postgres.service is not-found (is it installed? run pg-quadlet install)')));
});

live.run();
