// pgBackRest in the image, against real PostgreSQL 15 and real pgBackRest 2.45: the stanza and
// WAL archiving from the first start on, backups of each type, and restores: the latest state,
// a point in time, and a test restore that must not write into the archive.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skipUnless } from '../support/skip.js';
import { withSandbox, type Sandbox } from '../image/sandbox.js';
import {
  archivedFiles,
  archivedSegments,
  archiver,
  backupNow,
  infoBackups,
  pgbackrestMissing,
  pgbackrestOk,
  runPgbackrest,
  serverTime,
  setAside,
  startRestored,
  switchWal,
  waitArchived,
} from './pgbackrest-support.js';
import { sleep, waitFor } from './support.js';

const test = skipUnless(suite('backup: pgBackRest'), pgbackrestMissing(), 'pgBackRest backups and restores against PostgreSQL 15');

const names = async (box: Sandbox) => (await box.query('SELECT name FROM items ORDER BY id')).map((r) => r.name);

test('the first start creates the stanza before the database and archives WAL from then on, with nothing failed', async () => {
  await withSandbox(async (box) => {
    const server = await box.startReady();
    const out = server.output();
    assert.match(out, /pgBackRest stanza 'main' is ready in .*pgbackrest-repo: WAL is archived there/);
    assert.ok(out.indexOf("stanza 'main' is ready") < out.indexOf('first start complete'), 'during the first start');
    assert.ok(fs.existsSync(path.join(box.paths.pgbackrestRepo, 'archive/main/archive.info')));
    assert.ok(fs.existsSync(path.join(box.paths.pgbackrestRepo, 'backup/main/backup.info')));

    const config = path.join(box.paths.socket, 'pgbackrest/pgbackrest.conf');
    assert.is((fs.statSync(config).mode & 0o777).toString(8), '600', 'the configuration is private');
    const settings = await box.superuser(
      "SELECT string_agg(name || '=' || setting, E'\\n' ORDER BY name) FROM pg_settings WHERE name IN ('archive_mode', 'archive_command', 'archive_timeout')",
      'postgres',
    );
    assert.is(settings, [
      `archive_command=${box.paths.scripts}/archive-push.sh ${config} main %p`,
      'archive_mode=on',
      'archive_timeout=60',
    ].join('\n'));

    const before = await archiver(box);
    assert.is(before.failed, 0, 'no archive attempt failed, not even during the first start');
    await box.query('CREATE TABLE items (id serial PRIMARY KEY, name text)');
    const segment = await switchWal(box);
    await waitArchived(box, segment);
    const after = await archiver(box);
    assert.ok(after.archived > before.archived, `archived_count grew: ${JSON.stringify({ before, after })}`);
    assert.is(after.failed, 0);
    assert.ok(archivedSegments(box).includes(segment), `${segment} is in the repository: ${archivedSegments(box).join(' ')}`);
    assert.is(fs.readdirSync(path.join(box.paths.pgdata, 'pg_wal/archive_status')).filter((f) => f.endsWith('.ready')).length, 0, 'nothing waits in pg_wal');

    const check = await pgbackrestOk(box, ['check']);
    assert.match(check, /^pgbackrest\.sh: check passed/m);
    assert.is(await box.stop(server), 0);
  });
});

test('a cluster made without pgBackRest gets the stanza at its next start, once; an emptied repository gets it back at the next start', async () => {
  await withSandbox(async (box) => {
    const first = await box.startReady();
    assert.is(await box.stop(first), 0);
    // As a cluster made by an image from before pgBackRest: one setup step done, no repository.
    const setupFile = path.join(box.paths.pgdata, 'pg-quadlet-setup');
    fs.writeFileSync(setupFile, '1\n');
    fs.rmSync(box.paths.pgbackrestRepo, { recursive: true });

    const upgraded = await box.startReady();
    assert.match(upgraded.output(), /adding what this image sets up that .* does not have yet \(steps 2 to 2\)/);
    assert.match(upgraded.output(), /stanza 'main' is ready/);
    assert.is(fs.readFileSync(setupFile, 'utf8'), '2\n');
    const segment = await switchWal(box);
    await waitArchived(box, segment);
    assert.is((await archiver(box)).failed, 0);
    assert.is(await box.stop(upgraded), 0);

    const next = await box.startReady();
    assert.not.match(next.output(), /adding what this image sets up|stanza 'main' is ready/, 'once');
    assert.is(await box.stop(next), 0);

    // A new, empty backup volume under a cluster that has had every step.
    fs.rmSync(box.paths.pgbackrestRepo, { recursive: true });
    const emptied = await box.startReady();
    assert.match(emptied.output(), /has no stanza 'main' \(a new or emptied backup volume\): creating it/);
    assert.ok(fs.existsSync(path.join(box.paths.pgbackrestRepo, 'archive/main/archive.info')));
    assert.is(await box.stop(emptied), 0);
  });
});

test('full, differential and incremental backups after writes: each result line, info with the types, a restore of the latest state, and a restore of each backup by itself', async () => {
  await withSandbox(async (box) => {
    const server = await box.startReady();
    await box.query("CREATE TABLE items (id serial PRIMARY KEY, name text); INSERT INTO items (name) VALUES ('before-full')");
    await box.query('CREATE TABLE bulk AS SELECT n, md5(n::text) AS h FROM generate_series(1, 20000) n');

    const full = await backupNow(box, 'full');
    assert.is(full.type, 'full');
    assert.match(full.label, /^\d{8}-\d{6}F$/);
    assert.ok(full.sizeBytes > 10_000_000, `the database's size: ${full.sizeBytes}`);
    assert.ok(full.storedBytes > 0 && full.storedBytes < full.sizeBytes, `compressed in the repository: ${full.storedBytes} of ${full.sizeBytes}`);
    assert.equal([full.kept, full.expired], [1, []]);

    await box.query("INSERT INTO items (name) VALUES ('before-diff')");
    const diff = await backupNow(box, 'diff');
    await box.query("INSERT INTO items (name) VALUES ('before-incr')");
    const incr = await backupNow(box, 'incr');
    assert.equal([diff.type, incr.type], ['diff', 'incr']);
    assert.match(diff.label, new RegExp(`^${full.label}_\\d{8}-\\d{6}D$`));
    assert.match(incr.label, new RegExp(`^${full.label}_\\d{8}-\\d{6}I$`));
    assert.ok(incr.storedBytes < full.storedBytes / 4, `an incremental stores only what changed: ${incr.storedBytes} vs ${full.storedBytes}`);
    assert.is(incr.kept, 3);

    const listed = await infoBackups(box);
    assert.equal(listed.map((b) => [b.label, b.type, b.prior]), [
      [full.label, 'full', null],
      [diff.label, 'diff', full.label],
      [incr.label, 'incr', diff.label],
    ]);
    assert.is(listed[2]?.info.size, incr.sizeBytes, 'the line and info agree');

    // The last write, archived (a switch stands for archive_timeout here), then a clean stop.
    await box.query("INSERT INTO items (name) VALUES ('after-incr')");
    await waitArchived(box, await switchWal(box));
    const counts = await box.superuser('SELECT count(*) FROM bulk');
    assert.is(await box.stop(server), 0);

    const aside = await setAside(box);
    assert.ok(aside.startsWith(`${box.paths.pgdata}.before-restore-`), aside);
    const restored = await runPgbackrest(box, ['restore', '--latest']);
    assert.is(restored.exitCode, 0, String(restored.all));
    assert.match(String(restored.stdout), new RegExp(`^pgbackrest\\.sh: restored ${incr.label} into ${box.paths.pgdata}, to the end of the archived WAL, in [\\d.]+ s;`, 'm'));
    assert.ok(fs.existsSync(path.join(box.paths.pgdata, 'recovery.signal')));
    assert.not.ok(fs.existsSync(`${box.paths.pgdata}.restoring`), 'restored beside PGDATA and renamed');

    const again = await startRestored(box);
    assert.match(again.output(), /starting archive recovery/);
    assert.match(again.output(), /selected new timeline ID: 2/);
    assert.equal(await names(box), ['before-full', 'before-diff', 'before-incr', 'after-incr']);
    assert.is(await box.superuser('SELECT count(*) FROM bulk'), counts);
    assert.is(await box.superuser('SELECT pg_is_in_recovery()', 'postgres'), 'f');
    await box.query("INSERT INTO items (name) VALUES ('after-restore')");
    await waitFor('the new timeline in the archive', () => archivedFiles(box).some((f) => f.endsWith('00000002.history')));
    await waitArchived(box, await switchWal(box));
    assert.ok(archivedSegments(box).some((s) => s.startsWith('00000002')), 'the promoted cluster archives its new timeline');
    assert.is(await box.stop(again), 0);

    // Each backup by itself (--backup LABEL: the database as that backup saw it), as test restores.
    const expected: Array<[string, string[]]> = [
      [full.label, ['before-full']],
      [diff.label, ['before-full', 'before-diff']],
      [incr.label, ['before-full', 'before-diff', 'before-incr']],
    ];
    for (const [label, rows] of expected) {
      await setAside(box);
      const one = await pgbackrestOk(box, ['restore', '--backup', label, '--archive-mode-off']);
      assert.match(one, new RegExp(`restored ${label} into .*, to the end of that backup, archive mode off`));
      const server = await startRestored(box);
      assert.equal(await names(box), rows, `restored from ${label}`);
      assert.is(await box.stop(server), 0);
    }
  });
});

test('point-in-time recovery with --time: the commit before the time is there, the one after is not', async () => {
  await withSandbox(async (box) => {
    const server = await box.startReady();
    await box.query('CREATE TABLE items (id serial PRIMARY KEY, name text)');
    await backupNow(box, 'full');
    await box.query("INSERT INTO items (name) VALUES ('first')");
    // The target is whole seconds: at least a second after the first commit, and a second before
    // the second one.
    await sleep(1100);
    const target = await serverTime(box);
    await sleep(1100);
    await box.query("INSERT INTO items (name) VALUES ('second')");
    await waitArchived(box, await switchWal(box));
    assert.is(await box.stop(server), 0);

    await setAside(box);
    const restored = await pgbackrestOk(box, ['restore', '--time', target]);
    assert.match(restored, new RegExp(`restored \\S+F into .*, to ${target.replace('+', '\\+')}, in`));
    // As if the backup came from an image with fewer setup steps: the entrypoint sets the cluster
    // up on its socket-only server, which must first finish the recovery.
    fs.writeFileSync(path.join(box.paths.pgdata, 'pg-quadlet-setup'), '1\n');
    const recovered = await startRestored(box);
    const out = recovered.output();
    assert.match(out, /is being recovered \(recovery\.signal: a restore\): waiting until it has replayed the archived WAL and is promoted/);
    assert.match(out, /recovery stopping before commit of transaction/);
    assert.ok(out.indexOf('recovery finished: the cluster is promoted') < out.indexOf('adding what this image sets up'), out);
    assert.equal(await names(box), ['first']);
    assert.is(await box.stop(recovered), 0);
  });
});

test('a restored cluster takes read-only logins and passes the health check while it is in recovery; wait-promoted waits for its promotion, or says it gave up', async () => {
  await withSandbox(async (box) => {
    const server = await box.startReady();
    await box.query("CREATE TABLE items (id serial PRIMARY KEY, name text); INSERT INTO items (name) VALUES ('kept')");
    await backupNow(box, 'full');
    assert.is(await box.stop(server), 0);
    await setAside(box);
    await pgbackrestOk(box, ['restore', '--latest']);
    // standby.signal holds the cluster in recovery for as long as the test needs.
    fs.writeFileSync(path.join(box.paths.pgdata, 'standby.signal'), '');
    const standby = await box.startReady();
    assert.is(await box.superuser('SELECT pg_is_in_recovery()', 'postgres'), 't');
    assert.equal(await names(box), ['kept']);
    assert.ok(await box.healthy(), 'healthy: it takes logins (docs/pgbackrest.md says why this is so)');
    const write = await box.query("INSERT INTO items (name) VALUES ('refused')").then(() => 'written', (e) => e.code);
    assert.is(write, '25006', 'read only');
    const gaveUp = await runPgbackrest(box, ['wait-promoted', '2']);
    assert.is(gaveUp.exitCode, 1);
    assert.match(String(gaveUp.stderr), /the server is still in recovery after 2 s \(replayed up to [0-9A-F]+\/[0-9A-F]+/);

    const promote = await box.runAsPostgres('pg_ctl', ['promote', '--pgdata', box.paths.pgdata]);
    assert.is(promote.exitCode, 0, String(promote.all));
    assert.match(await pgbackrestOk(box, ['wait-promoted', '30']), /^pgbackrest\.sh: the server is out of recovery/m);
    await box.query("INSERT INTO items (name) VALUES ('written')");
    assert.is(await box.stop(standby), 0);
  });
});

test('a test restore with --archive-mode-off never writes to the archive; the cluster put back archives on', async () => {
  await withSandbox(async (box) => {
    const server = await box.startReady();
    await box.query("CREATE TABLE items (id serial PRIMARY KEY, name text); INSERT INTO items (name) VALUES ('kept')");
    await backupNow(box, 'full');
    await waitArchived(box, await switchWal(box));
    assert.is(await box.stop(server), 0);
    const archived = archivedFiles(box);

    const production = await setAside(box);
    const restored = await pgbackrestOk(box, ['restore', '--latest', '--archive-mode-off']);
    assert.match(restored, /, to the end of the archived WAL, archive mode off, in /);
    const trial = await startRestored(box);
    assert.is(await box.superuser('SHOW archive_mode', 'postgres'), 'off');
    assert.equal(await names(box), ['kept']);
    await box.query("INSERT INTO items (name) VALUES ('trial')");
    await switchWal(box);
    await sleep(1500);
    assert.is((await archiver(box)).archived, 0, 'the test restore archived nothing');
    assert.equal(archivedFiles(box), archived, 'no new timeline, no segment: the archive is as it was');
    assert.is(await box.stop(trial), 0);

    // Back to production: the trial is moved aside, the original put back, and it archives.
    const refused = await runPgbackrest(box, ['put-back', production]);
    assert.is(refused.exitCode, 1);
    assert.match(String(refused.all), /is not empty: move it aside first/);
    await sleep(1000); // set-aside names directories by the second
    await setAside(box);
    await pgbackrestOk(box, ['put-back', production]);
    const back = await box.startReady();
    assert.equal(await names(box), ['kept']);
    await waitArchived(box, await switchWal(box));
    assert.is((await archiver(box)).failed, 0);
    assert.is(await box.stop(back), 0);
  });
});

test('two backups at once: the second waits for the first instead of failing on the lock, and both are taken', async () => {
  await withSandbox(async (box) => {
    await box.startReady();
    const [first, second] = await Promise.all([runPgbackrest(box, ['backup', 'full']), runPgbackrest(box, ['backup', 'diff'])]);
    assert.is(first.exitCode, 0, String(first.all));
    assert.is(second.exitCode, 0, String(second.all));
    assert.ok([first, second].some((run) => /another backup is running: waiting up to \d+ s for it/.test(String(run.all))), 'one of them waited');
  });
});

test.run();
