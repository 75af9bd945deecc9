// pgBackRest when things go wrong, against real PostgreSQL 15 and real pgBackRest 2.45: a lost
// data directory, a damaged repository, a backup killed mid-way, and a repository the server
// cannot write to for a while, or one whose disk is full. What was committed and archived must
// always come back.
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skipUnless } from '../support/skip.js';
import { postgresGid, postgresUid, withSandbox, type Sandbox, type Server } from '../image/sandbox.js';
import {
  archivedSegments,
  archiver,
  backupNow,
  crash,
  infoBackups,
  pgbackrestMissing,
  pgbackrestOk,
  runPgbackrest,
  setAside,
  startRestored,
  switchWal,
  waitArchived,
} from './pgbackrest-support.js';
import { commandOf, pgbench, processTree, waitFor } from './support.js';

const test = skipUnless(suite('backup: pgBackRest failures'), pgbackrestMissing(), 'pgBackRest failures against PostgreSQL 15');

const names = async (box: Sandbox) => (await box.query('SELECT name FROM items ORDER BY id')).map((r) => r.name);

/** Segment numbers within timeline 1 (16 MB segments: 256 per log file). */
const segmentNumber = (name: string) => parseInt(name.slice(8, 16), 16) * 256 + parseInt(name.slice(16, 24), 16);

/** Ends the segment of the last write and waits until archiving it fails: the server's log has
 * pgBackRest's reason (`repo1: ...`, matching `why`) and the segment waits in pg_wal. */
async function archivingFails(box: Sandbox, server: Server, why: RegExp): Promise<void> {
  const stuck = await switchWal(box);
  await waitFor('a failed archive attempt', async () => (await archiver(box)).failed > 0, 30_000);
  const failing = await archiver(box);
  assert.is(failing.lastFailed, stuck);
  assert.ok(failing.lastArchived < stuck);
  assert.match(server.output(), /LOG: {2}archive command failed with exit code \d+/);
  assert.match(server.output(), new RegExp(`ERROR: \\[\\d+\\]: .*archive-push command encountered error\\(s\\):\\n\\s+${why.source}`), 'pgBackRest says why, in the server log');
  assert.ok(fs.existsSync(path.join(box.paths.pgdata, 'pg_wal/archive_status', `${stuck}.ready`)), 'the segment waits in pg_wal');
}

test('a lost data directory: the next start refuses to begin a new cluster beside the backups; a restore brings back the last commit archive_timeout archived', async () => {
  await withSandbox(async (box) => {
    const env = { POSTGRES_ARCHIVE_TIMEOUT: '1' };
    const server = await box.startReady({ env });
    await box.query("CREATE TABLE items (id serial PRIMARY KEY, name text); INSERT INTO items (name) VALUES ('backed-up')");
    await backupNow(box, 'full', env);
    await box.query("INSERT INTO items (name) VALUES ('last')");
    // No switch by hand: archive_timeout ends the segment of the last commit within a second.
    const segment = await box.superuser('SELECT pg_walfile_name(pg_current_wal_lsn())', 'postgres');
    await waitArchived(box, segment, 15_000);
    await crash(server);
    fs.rmSync(box.paths.pgdata, { recursive: true });

    const fresh = box.start({ env });
    assert.is(await fresh.exited, 78, 'a config that needs a person: the unit does not restart on it');
    assert.match(fresh.output(), /initializing a new cluster/);
    assert.match(fresh.output(), /holds stanza 'main' of another cluster \(system identifier \d+; this one is \d+\), so this cluster's WAL cannot be archived there\. If the data volume was replaced or emptied and the backups hold the data, restore them/);

    await setAside(box); // the half-made cluster of that start
    await pgbackrestOk(box, ['restore', '--latest'], env);
    const restored = await startRestored(box, env);
    assert.equal(await names(box), ['backed-up', 'last']);
    assert.is(await box.stop(restored), 0);
  });
});

test('verify passes on a good repository and names a damaged file; a restore of the damaged backup refuses and changes nothing, an older backup still restores', async () => {
  await withSandbox(async (box) => {
    const server = await box.startReady();
    await box.query("CREATE TABLE items (id serial PRIMARY KEY, name text); INSERT INTO items (name) VALUES ('one')");
    const older = await backupNow(box, 'full');
    await box.query("INSERT INTO items (name) VALUES ('two')");
    const newer = await backupNow(box, 'full');
    assert.is(newer.kept, 2, 'both full backups are within BACKUP_KEEP_DAYS');
    await box.query("INSERT INTO items (name) VALUES ('three')");
    await waitArchived(box, await switchWal(box));

    const good = await runPgbackrest(box, ['verify']);
    assert.is(good.exitCode, 0, String(good.all));
    assert.match(String(good.stdout), /^pgbackrest\.sh: verify passed/m);

    // Bytes flipped in the middle of the newer backup's largest bundle, as a bad disk would.
    const bundles = path.join(box.paths.pgbackrestRepo, 'backup/main', newer.label, 'bundle');
    const [largest] = fs.readdirSync(bundles).map((f) => path.join(bundles, f)).sort((a, b) => fs.statSync(b).size - fs.statSync(a).size);
    const bytes = fs.readFileSync(largest as string);
    const middle = Math.floor(bytes.length / 2);
    bytes.set(bytes.subarray(middle, middle + 64).map((b) => b ^ 0xff), middle);
    fs.writeFileSync(largest as string, bytes);

    const bad = await runPgbackrest(box, ['verify']);
    assert.is(bad.exitCode, 1, String(bad.all));
    assert.match(String(bad.stderr), new RegExp(`error: verify found damage in .*: invalid checksum '${newer.label}/pg_data/[^']+'`));
    assert.is(await box.stop(server), 0);

    await setAside(box);
    // No retry after 15 s: a damaged file stays damaged (job-retry, read by pgBackRest itself).
    const refused = await runPgbackrest(box, ['restore', '--latest'], { PGBACKREST_JOB_RETRY: '0' });
    assert.is(refused.exitCode, 1);
    assert.match(String(refused.all), /ERROR: \[\d+\]: raised from local-\d+ protocol: .*(checksum|corruption)/);
    assert.match(String(refused.all), /error: the restore failed \(its error is above\): .* was not changed/);
    assert.not.ok(fs.existsSync(box.paths.pgdata), 'PGDATA is as it was: absent');
    assert.not.ok(fs.existsSync(`${box.paths.pgdata}.restoring`), 'nothing half-restored is left');

    const restored = await pgbackrestOk(box, ['restore', '--backup', older.label, '--latest']);
    assert.match(restored, new RegExp(`restored ${older.label} into `));
    const recovered = await startRestored(box);
    assert.equal(await names(box), ['one', 'two', 'three'], 'the older backup and the archived WAL reach the latest commit');
    assert.is(await box.stop(recovered), 0);
  });
});

test('a backup killed mid-way (SIGKILL to pgBackRest) fails; the backups before it still restore, and the next backup succeeds', async () => {
  await withSandbox(async (box) => {
    const server = await box.startReady();
    await box.query("CREATE TABLE items (id serial PRIMARY KEY, name text); INSERT INTO items (name) VALUES ('backed-up')");
    const first = await backupNow(box, 'full');
    const init = await pgbench(box, ['-i', '-s', '3', '-q']);
    assert.is(init.exitCode, 0, String(init.all));
    await box.query("INSERT INTO items (name) VALUES ('later')");

    // A slow backup (one process, strong compression), killed once it has stored a file.
    const slow = { PGBACKREST_PROCESS_MAX: '1', PGBACKREST_COMPRESS_LEVEL: '12' };
    const run = runPgbackrest(box, ['backup', 'full'], slow);
    const backups = path.join(box.paths.pgbackrestRepo, 'backup/main');
    const copying = () => fs.readdirSync(backups).filter((d) => d !== first.label && /^\d{8}-\d{6}F$/.test(d))
      .some((d) => (fs.readdirSync(path.join(backups, d), { recursive: true }) as string[]).some((f) => f.endsWith('.zst')));
    await waitFor('the backup to store files', copying, 30_000);
    const killed = processTree(run.pid as number).filter((pid) => path.basename(commandOf(pid)[0] ?? '') === 'pgbackrest');
    assert.ok(killed.length >= 1, 'pgBackRest is running');
    for (const pid of killed) process.kill(pid, 'SIGKILL');
    const result = await run;
    assert.is.not(result.exitCode, 0);
    assert.match(String(result.all), /error: the full backup into repo1 failed \(the error is above\): the backups before it are as they were/);
    assert.equal((await infoBackups(box)).map((b) => b.label), [first.label], 'the killed backup is not listed as one');

    const next = await backupNow(box, 'full');
    assert.is(next.kept, 2);
    assert.equal((await infoBackups(box)).map((b) => b.label), [first.label, next.label]);
    assert.is(await box.stop(server), 0);

    await setAside(box);
    await pgbackrestOk(box, ['restore', '--backup', first.label]);
    const restored = await startRestored(box);
    assert.equal(await names(box), ['backed-up'], 'the first backup, as it ended');
    assert.is(await box.stop(restored), 0);
  });
});

test('archiving into a repository it cannot write fails visibly, keeps the WAL, and catches up with no segment lost when the repository returns', async () => {
  await withSandbox(async (box) => {
    const server = await box.startReady();
    await box.query("CREATE TABLE items (id serial PRIMARY KEY, name text); INSERT INTO items (name) VALUES ('backed-up')");
    await backupNow(box, 'full');
    const archive = path.join(box.paths.pgbackrestRepo, 'archive/main/15-1');
    const dirs = [archive, ...fs.readdirSync(archive).map((d) => path.join(archive, d)).filter((d) => fs.statSync(d).isDirectory())];
    for (const dir of dirs) fs.chmodSync(dir, 0o500);
    try {
      await box.query("INSERT INTO items (name) VALUES ('during')");
      await archivingFails(box, server, /repo1: \[FileOpenError\] unable to open file .* for write: \[13\] Permission denied/);
    } finally {
      for (const dir of dirs) fs.chmodSync(dir, 0o750);
    }

    await box.query("INSERT INTO items (name) VALUES ('after')");
    const last = await switchWal(box);
    await waitArchived(box, last, 60_000);
    const segments = archivedSegments(box).filter((s) => s.startsWith('00000001')).map(segmentNumber);
    const first = Math.min(...segments);
    assert.equal(segments, Array.from({ length: segmentNumber(last) - first + 1 }, (_, i) => first + i), 'every segment, in order, none missing');
    assert.is(await box.stop(server), 0);

    await setAside(box);
    await pgbackrestOk(box, ['restore', '--latest']);
    const restored = await startRestored(box);
    assert.equal(await names(box), ['backed-up', 'during', 'after']);
    assert.is(await box.stop(restored), 0);
  });
});

test('a repository whose disk is full: the backup fails and archiving stops (No space left on device), the backup before still verifies and restores; with room again the archive catches up with no segment lost and the next backup succeeds', async () => {
  await withSandbox(async (box) => {
    // The backup volume: a 32 MB tmpfs. The first backup and the WAL archived with it take about
    // 7 MB, the WAL of 16 MB of random bytes (zst cannot shrink them) another 17: a full backup
    // of them, 20 MB more, cannot fit.
    const repo = box.paths.pgbackrestRepo;
    fs.mkdirSync(repo);
    await execa('mount', ['-t', 'tmpfs', '-o', `size=32m,mode=0750,uid=${postgresUid()},gid=${postgresGid()}`, 'pg-quadlet-repo-test', repo]);
    try {
      const server = await box.startReady();
      await box.query("CREATE TABLE items (id serial PRIMARY KEY, name text); INSERT INTO items (name) VALUES ('backed-up')");
      const first = await backupNow(box, 'full');
      await box.query("INSERT INTO items (name) VALUES ('later'); CREATE TABLE noise AS SELECT gen_random_bytes(1024) AS b FROM generate_series(1, 16384)");
      await waitArchived(box, await switchWal(box), 30_000);

      // No retry after 15 s: the disk stays full (job-retry, read by pgBackRest itself).
      const full = await runPgbackrest(box, ['backup', 'full'], { PGBACKREST_JOB_RETRY: '0' });
      assert.is.not(full.exitCode, 0);
      // pgBackRest 2.45 takes a short write() for an error, so the errno it prints is whatever
      // came before (here "[2] No such file or directory"), not ENOSPC: the path is what tells.
      const failed = new RegExp(`ERROR: \\[\\d+\\]: .*unable to write '${repo}/backup/main/(\\d{8}-\\d{6}F)/[^']+'`).exec(String(full.all))?.[1];
      assert.ok(failed, String(full.all));
      assert.match(String(full.all), /error: the full backup into repo1 failed \(the error is above\): the backups before it are as they were/);
      assert.is(fs.statfsSync(repo).bavail, 0, 'the repository\'s disk is full');
      assert.equal((await infoBackups(box)).map((b) => b.label), [first.label], 'the failed backup is not listed as one');

      await box.query("INSERT INTO items (name) VALUES ('during')");
      await archivingFails(box, server, /repo1: \[FileWriteError\] unable to write '[^']+': \[28\] No space left on device/);

      const verified = await runPgbackrest(box, ['verify']);
      assert.is(verified.exitCode, 0, String(verified.all));
      assert.ok(String(verified.all).includes(`backup '${failed}' appears to be in progress, skipping`), 'what the failed backup left is not taken for a backup');
      assert.match(String(verified.stdout), /^pgbackrest\.sh: verify passed/m);
      assert.is(await box.stop(server), 0);

      // A test restore of the first backup from the full repository (it writes nothing there).
      const original = await setAside(box);
      const restored = await pgbackrestOk(box, ['restore', '--backup', first.label, '--archive-mode-off']);
      assert.match(restored, new RegExp(`restored ${first.label} into `));
      const trial = await startRestored(box);
      assert.equal(await names(box), ['backed-up'], 'the first backup, as it ended');
      assert.is(await box.superuser("SELECT to_regclass('noise') IS NULL"), 't');
      assert.is(await box.stop(trial), 0);
      await setAside(box);
      await pgbackrestOk(box, ['put-back', original]);

      // The server starts again on the full repository; then the operator adds room.
      const again = await box.startReady();
      await execa('mount', ['-o', 'remount,size=128m', repo]);
      await box.query("INSERT INTO items (name) VALUES ('after')");
      const last = await switchWal(box);
      await waitArchived(box, last, 60_000);
      const segments = archivedSegments(box).filter((s) => s.startsWith('00000001')).map(segmentNumber);
      const from = Math.min(...segments);
      assert.equal(segments, Array.from({ length: segmentNumber(last) - from + 1 }, (_, i) => from + i), 'every segment, in order, none missing');

      const next = await backupNow(box, 'full');
      assert.is(next.kept, 2);
      assert.equal((await infoBackups(box)).map((b) => b.label), [first.label, next.label]);
      assert.equal(await names(box), ['backed-up', 'later', 'during', 'after']);
      assert.is(await box.stop(again), 0);
    } finally {
      await execa('umount', ['--lazy', repo]);
    }
  });
});

test.run();
