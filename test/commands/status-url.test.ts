import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { status } from '../../lib/commands/status.js';
import { url } from '../../lib/commands/url.js';
import { contextFor, type Context } from '../../lib/context.js';
import { connectionUrl } from '../../lib/core/connection.js';
import type { Runner } from '../../lib/host/runner.js';
import { renderUnits, resolveConfig, type PostgresServiceInput } from '../../lib/index.js';
import { sandboxMissing, withSandbox, type Sandbox } from '../image/sandbox.js';
import { FakeHost, ok } from '../support/fake-host.js';
import { skipUnless } from '../support/skip.js';

const urls = suite('url');
const on = (runner: Runner, input: PostgresServiceInput = {}, root?: string): Context => contextFor(resolveConfig(input), { runner, ...(root ? { root } : {}) });

urls('the connection string masks the password unless asked, and points where clients can connect', async () => {
  const host = new FakeHost();
  host.secrets.set('poststack-postgres-password', 'p@ss:w/rd?&=');
  const config = resolveConfig();
  assert.is(connectionUrl(config), 'postgresql://poststack:***@127.0.0.1:5432/poststack?sslmode=disable');
  assert.is((await url(on(host))).url, 'postgresql://poststack:***@127.0.0.1:5432/poststack?sslmode=disable');
  assert.is((await url(on(host), { showPassword: true })).url, 'postgresql://poststack:p%40ss%3Aw%2Frd%3F%26%3D@127.0.0.1:5432/poststack?sslmode=disable');
  assert.is(connectionUrl(resolveConfig({ tls: { domain: 'db.example.com' }, port: 6543 })), 'postgresql://poststack:***@db.example.com:6543/poststack?sslmode=verify-full');
  assert.is(connectionUrl(resolveConfig({ bindAddress: '0.0.0.0' })), 'postgresql://poststack:***@127.0.0.1:5432/poststack?sslmode=disable');
  assert.is(connectionUrl(resolveConfig({ bindAddress: '::' })), 'postgresql://poststack:***@[::1]:5432/poststack?sslmode=disable');
  assert.equal(host.calls.map((call) => call.command), ['podman secret inspect --showsecret --format {{.SecretData}} poststack-postgres-password']);
});

urls('--pooled points at PgBouncer, and says how to turn the pool on when it is off', async () => {
  const host = new FakeHost();
  assert.is((await url(on(host, { pool: { enabled: true, port: 7432 } }), { pooled: true })).url, 'postgresql://poststack:***@127.0.0.1:7432/poststack?sslmode=disable');
  try {
    await url(on(host), { pooled: true });
    assert.unreachable();
  } catch (error) {
    assert.match((error as Error).message, /the pool is off: enable it with pool\.enabled = true/);
  }
});

urls.run();

const stopped = suite('status of a stopped service');

stopped('a crash loop that systemd ended is named as one, with where to look and how to start again', async () => {
  const host = new FakeHost();
  for (const unit of renderUnits().map((file) => file.unitName)) host.loaded.add(unit);
  host.failed.set('poststack-postgres.service', 10);
  const result = await status(on(host));
  assert.not.ok(result.healthy);
  assert.ok(
    result.problems.includes(
      'poststack-postgres.service failed at every start and systemd stopped restarting it after 10 restarts (its start limit): see journalctl -u poststack-postgres.service for why; ' +
        'once mended, systemctl reset-failed poststack-postgres.service && systemctl start poststack-postgres.service',
    ),
    result.problems.join('\n'),
  );
  host.failed.set('poststack-postgres.service', 0);
  assert.ok((await status(on(host))).problems.includes('poststack-postgres.service is failed (dead)'));
});

stopped.run();

const live = skipUnless(suite('status against a real PostgreSQL'), sandboxMissing(), 'status tests against PostgreSQL 15');

/** A backup that finished a minute ago, as `pgbackrest.sh info` reports it. */
const INFO = JSON.stringify([{ name: 'main', backup: [{ label: '20261129-020000F', type: 'full', timestamp: { start: Date.now() / 1000 - 65, stop: Date.now() / 1000 - 60 }, info: { size: 1, repository: { delta: 1 } } }] }]);

function runningHost(input: PostgresServiceInput = {}): FakeHost {
  const host = new FakeHost().running(...renderUnits(input).map((unit) => unit.unitName));
  host.execs.set('/usr/local/bin/pgbackrest.sh info', ok(INFO));
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
    const fake = runningHost();
    const result = await status(on(fake), { connection: { host: '127.0.0.1', port: box.port, user: 'poststack', database: 'poststack', password: box.password } });
    assert.equal(result.problems, []);
    assert.not.ok(fake.calls.some((call) => call.command.includes('pg_stat_archiver')), 'the archiver is read once, with the database facts');
    assert.ok(result.healthy);
    assert.is(result.health, 'healthy');
    assert.equal(result.timers, [
      { unit: 'poststack-postgres-backup.timer', active: 'active', lastRun: 'Fri 2026-11-27 02:00:03 UTC', nextRun: 'Sat 2026-11-28 02:03:12 UTC', lastResult: 'success' },
      { unit: 'poststack-postgres-backup-full.timer', active: 'active', lastRun: 'Fri 2026-11-27 02:00:03 UTC', nextRun: 'Sat 2026-11-28 02:03:12 UTC', lastResult: 'success' },
    ]);
    assert.equal([result.stale, result.drift], [[], []]);
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
    const sick = await status(on(unhealthy), { connection });
    assert.not.ok(sick.healthy);
    assert.ok(sick.problems.some((problem) => problem.includes('health check says unhealthy')));

    const wrongPassword = await status(on(runningHost()), { connection: { ...connection, password: 'wrong' } });
    assert.not.ok(wrongPassword.healthy);
    assert.ok(wrongPassword.problems.some((problem) => /database did not answer: password authentication failed/.test(problem)), wrongPassword.problems.join('\n'));
  });
  const stopped = new FakeHost();
  for (const unit of renderUnits()) stopped.loaded.add(unit.unitName);
  stopped.health = undefined;
  const down = await status(on(stopped));
  assert.not.ok(down.healthy);
  assert.ok(down.problems.includes('poststack-postgres.service is inactive (dead)'));
  assert.ok(down.problems.some((problem) => problem.includes('backups are not scheduled')));
  assert.is(down.database, null);

  const missing = await status(on(new FakeHost()));
  assert.ok(missing.problems.some((problem) => problem.includes('poststack-postgres.service is not-found (is it installed? run pg-quadlet install)')));
});

live('a setting the server has otherwise than the config, and a service older than its unit file, are reported with how to apply them', async () => {
  await withServer(async (box) => {
    const connection = { host: '127.0.0.1', port: box.port, user: 'poststack', database: 'poststack', password: box.password };
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-quadlet-status-'));
    try {
      const input = { maxConnections: 150, sharedBuffers: '128MB', settings: { work_mem: '4096kB', jit: false, statement_timeout: '0' } };
      const host = runningHost(input);
      host.started.set('poststack-postgres.service', Math.floor(Date.now() / 1000) - 60);
      const file = path.join(root, 'etc/containers/systemd/poststack-postgres.container');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, 'written after the service started\n');
      const result = await status(on(host, input, root), { connection });
      // The sandbox runs the image's defaults: 100 connections, 256MB; work_mem 4MB is 4096kB, jit off.
      assert.equal(result.drift, [
        { name: 'max_connections', configured: '150', live: '100' },
        { name: 'shared_buffers', configured: '128MB', live: '256MB' },
      ]);
      assert.ok(result.problems.includes('max_connections is 100 on the server, and the config says 150: restart it to apply (pg-quadlet install --now)'), result.problems.join('\n'));
      assert.equal(result.stale, ['poststack-postgres.service']);
      assert.ok(result.problems.some((problem) => /^poststack-postgres\.service runs on older units than the installed files: apply them with pg-quadlet install --now/.test(problem)));
      assert.not.ok(result.healthy);

      host.started.set('poststack-postgres.service', Math.floor(Date.now() / 1000) + 5);
      assert.equal((await status(on(host, input, root), { connection })).stale, [], 'a service started after the file changed is current');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

live.run();
