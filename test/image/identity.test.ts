// The cluster remembers who it was made for: a container set for another database or role stops
// at once with both names (exit 78, which the unit does not restart on), a rename done in the
// cluster is followed, and a start that can never become healthy is stopped by its start-up check.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skipUnless } from '../support/skip.js';
import { sandboxMissing, withSandbox } from './sandbox.js';

const test = skipUnless(suite('image: identity'), sandboxMissing(), 'image scripts against PostgreSQL 15');

const identityFile = (pgdata: string) => path.join(pgdata, 'pg-quadlet-identity');

test('the first start records the database and the role; a start set for others stops at once naming both, and leaves the cluster as it was', async () => {
  await withSandbox(async (box) => {
    const first = await box.startReady();
    assert.is(fs.readFileSync(identityFile(box.paths.pgdata), 'utf8'), 'database=poststack\nuser=poststack\n');
    await box.query('CREATE TABLE kept AS SELECT 1 AS id');
    assert.is(await box.stop(first), 0);

    const started = Date.now();
    const other = box.start({ env: { POSTGRES_DB: 'otherdb' } });
    assert.is(await other.exited, 78, 'the configuration error status');
    assert.ok(Date.now() - started < 30_000, 'at once, not at a timeout');
    assert.match(
      other.output(),
      /entrypoint: error: this cluster was made for database 'poststack' owned by 'poststack', but the container is set for database 'otherdb' \(POSTGRES_DB\) owned by 'poststack' \(POSTGRES_USER\), and the cluster has no such database: set database and user back in the config, or rename them/,
    );
    const role = box.start({ env: { POSTGRES_USER: 'otheruser' } });
    assert.is(await role.exited, 78);
    assert.match(role.output(), /owned by 'otheruser' \(POSTGRES_USER\), and the cluster has no such user/);
    assert.is(fs.readFileSync(identityFile(box.paths.pgdata), 'utf8'), 'database=poststack\nuser=poststack\n', 'the record is unchanged');
    assert.is(await box.clusterState(), 'shut down', 'no server was left running');

    const again = await box.startReady();
    assert.equal(await box.query('SELECT id FROM kept'), [{ id: 1 }], 'the data is there under the configured names');
    assert.is(await box.stop(again), 0);
  });
});

test('a rename done in the cluster is followed: the record takes the new names', async () => {
  await withSandbox(async (box) => {
    const first = await box.startReady();
    await box.superuser('ALTER DATABASE poststack RENAME TO renamed', 'postgres');
    assert.is(await box.stop(first), 0);
    const renamed = await box.startReady({ env: { POSTGRES_DB: 'renamed' }, connect: { database: 'renamed' } });
    assert.match(renamed.output(), /the cluster's database and role are now 'renamed' and 'poststack' \(were 'poststack' and 'poststack'\)/);
    assert.is(fs.readFileSync(identityFile(box.paths.pgdata), 'utf8'), 'database=renamed\nuser=poststack\n');
    assert.is(await box.stop(renamed), 0);
  });
});

test('a cluster made before the record gets it at its next start, when its database and role exist', async () => {
  await withSandbox(async (box) => {
    const first = await box.startReady();
    assert.is(await box.stop(first), 0);
    fs.rmSync(identityFile(box.paths.pgdata));
    const next = await box.startReady();
    assert.is(fs.readFileSync(identityFile(box.paths.pgdata), 'utf8'), 'database=poststack\nuser=poststack\n');
    assert.not.match(next.output(), /are now/, 'recorded quietly: nothing changed');
    assert.is(await box.stop(next), 0);

    fs.rmSync(identityFile(box.paths.pgdata));
    const wrong = box.start({ env: { POSTGRES_DB: 'otherdb' } });
    assert.is(await wrong.exited, 78);
    assert.match(wrong.output(), /made for database '\?' owned by '\?', but the container is set for database 'otherdb'/);
  });
});

test("the start-up check stops a server whose login can never succeed, with the reason in the server's log; the periodic check only reports it", async () => {
  await withSandbox(async (box) => {
    const server = await box.startReady();
    // The secret no longer matches the role: as after a password changed by hand on one side only.
    await box.superuser("ALTER ROLE poststack PASSWORD 'changed behind its back'", 'postgres');
    const periodic = await box.runAsPostgres(path.join(box.paths.scripts, 'health-check.sh'));
    assert.is.not(periodic.exitCode, 0);
    assert.match(String(periodic.all), /health-check: error: the password in the secret is not the password of the role 'poststack': set both at once with pg-quadlet password/);
    assert.is(server.process.exitCode, null, 'the periodic check leaves the server running');

    const startup = await box.runAsPostgres(path.join(box.paths.scripts, 'health-check.sh'), ['--wait', '4']);
    assert.is.not(startup.exitCode, 0);
    assert.is(await server.exited, 0, 'the server was stopped cleanly (fast shutdown)');
    assert.match(server.output(), /LOG:  health-check: the password in the secret is not the password of the role 'poststack'.*; stopping the server, which can never become healthy/);
  });
});

test('the start-up check stops a server whose configured database was dropped', async () => {
  await withSandbox(async (box) => {
    const server = await box.startReady();
    await box.superuser('DROP DATABASE poststack WITH (FORCE)', 'postgres');
    const startup = await box.runAsPostgres(path.join(box.paths.scripts, 'health-check.sh'), ['--wait', '4']);
    assert.is.not(startup.exitCode, 0);
    assert.is(await server.exited, 0);
    assert.match(server.output(), /LOG:  health-check: the database 'poststack' \(POSTGRES_DB\) does not exist in this cluster; stopping the server/);
  });
});

test.run();
