// A backup that fails, however it fails, leaves nothing that looks like a backup, keeps every older
// backup as it was and exits non-zero; two at once do not collide; no password is used anywhere.
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skipUnless } from '../support/skip.js';
import { postgresGid, postgresUid, sandboxMissing, withSandbox, type Sandbox } from '../image/sandbox.js';
import {
  backupDir,
  backupEnv,
  backupLike,
  backupNow,
  commandOf,
  copyBackup,
  environmentOf,
  listBackups,
  makeBackupDir,
  nameDaysAgo,
  processTree,
  runBackup,
  tree,
  waitFor,
} from './support.js';

const test = skipUnless(suite('backup: failures'), sandboxMissing(), 'backup failures against PostgreSQL 15');

/** A backup started as its own process group, held by a lock on a table until the test lets go. */
async function heldBackup(box: Sandbox) {
  const holder = await box.connect();
  await holder.query('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
  const run = box.runAsPostgres('setsid', [path.join(box.paths.scripts, 'backup.sh')], { env: backupEnv(box) });
  const pid = run.pid as number;
  await waitFor('pg_dump to wait for the lock', async () => (await box.superuser("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump' AND wait_event_type = 'Lock'")) !== '0');
  return { run, pid, release: () => holder.end() };
}

/** Two older backups, as a run 40 and 30 days ago would have left them. */
async function olderBackups(box: Sandbox): Promise<string[]> {
  const first = await backupNow(box);
  const old = [nameDaysAgo(40), nameDaysAgo(30)];
  for (const name of old) copyBackup(backupDir(box), first, name);
  fs.rmSync(path.join(backupDir(box), first), { recursive: true });
  return old;
}

test('a backup killed mid-way leaves no backup, keeps the older ones, and the next run cleans up; no password anywhere', async () => {
  await withSandbox(async (box) => {
    makeBackupDir(box);
    await box.startReady();
    await box.query('CREATE TABLE t AS SELECT generate_series(1, 10000) AS n');
    const old = await olderBackups(box);
    const before = tree(backupDir(box));

    const held = await heldBackup(box);
    try {
      const processes = processTree(held.pid).filter((pid) => commandOf(pid).length > 0);
      const dumps = processes.filter((pid) => commandOf(pid)[0]?.endsWith('pg_dump'));
      assert.ok(dumps.length >= 1, `pg_dump runs: ${processes.map((pid) => commandOf(pid).join(' ')).join('\n')}`);
      for (const pid of processes) {
        const seen = [...commandOf(pid), ...environmentOf(pid)].join('\n');
        assert.not.ok(seen.includes(box.password.trim()), `process ${pid} (${commandOf(pid).join(' ')}) carries the password`);
        assert.not.match(seen, /^PGPASSWORD=/m, `process ${pid} has PGPASSWORD`);
      }
      assert.ok(fs.readdirSync(backupDir(box)).some((name) => name.startsWith('.tmp-')), 'the run writes under a temporary name');
      process.kill(-held.pid, 'SIGKILL');
      await held.run;
    } finally {
      await held.release();
    }

    assert.equal(backupLike(backupDir(box)), old.sort(), 'nothing new looks like a backup');
    const after = tree(backupDir(box));
    for (const [file, sum] of Object.entries(before)) assert.is(after[file], sum, `${file} is intact`);
    assert.equal((await listBackups(box)).map((b) => b.name), [...old].reverse());

    const next = await runBackup(box, [], { BACKUP_KEEP_MIN: '3' });
    assert.is(next.exitCode, 0, String(next.all));
    assert.match(String(next.all), /removing .*\.tmp-poststack_\d{8}T\d{6}Z, left by an interrupted run/);
    assert.not.ok(fs.readdirSync(backupDir(box)).some((name) => name.startsWith('.tmp-')));
  });
});

test('a backup stopped by SIGTERM removes its partial files at once and fails', async () => {
  await withSandbox(async (box) => {
    makeBackupDir(box);
    await box.startReady();
    await box.query('CREATE TABLE t AS SELECT generate_series(1, 10000) AS n');
    const old = await olderBackups(box);
    const held = await heldBackup(box);
    try {
      process.kill(-held.pid, 'SIGTERM');
      const result = await held.run;
      assert.ok(result.exitCode !== 0, `exit ${result.exitCode}`);
      assert.match(String(result.all), /backup: error: the backup failed \(exit \d+\): no backup was written and none was removed/);
    } finally {
      await held.release();
    }
    assert.equal(fs.readdirSync(backupDir(box)).filter((name) => name !== '.lock').sort(), old.sort());
  });
});

test('a backup that fills the disk fails, leaves nothing, and removes no expired backup', async () => {
  await withSandbox(async (box) => {
    const dir = makeBackupDir(box);
    await execa('mount', ['-t', 'tmpfs', '-o', `size=1m,mode=0700,uid=${postgresUid()},gid=${postgresGid()}`, 'pg-quadlet-backup-test', dir]);
    try {
      await box.startReady();
      await box.query('CREATE TABLE t AS SELECT generate_series(1, 100) AS n');
      const old = await olderBackups(box);
      const before = tree(dir);
      // About 4 MB of random bytes: no compression makes it fit in 1 MB.
      await box.query('CREATE TABLE noise AS SELECT gen_random_bytes(1024) AS b FROM generate_series(1, 4000)');

      const result = await runBackup(box, [], { BACKUP_KEEP_MIN: '1', BACKUP_KEEP_DAYS: '7' });
      assert.is(result.exitCode, 1, String(result.all));
      assert.match(String(result.all), /No space left on device/);
      assert.match(String(result.all), /no backup was written and none was removed/);
      assert.equal(tree(dir), before, 'the expired backups are all still there, unchanged, and nothing else is');

      await box.query('DROP TABLE noise');
      const ok = await runBackup(box, [], { BACKUP_KEEP_MIN: '1', BACKUP_KEEP_DAYS: '7' });
      assert.is(ok.exitCode, 0, String(ok.all));
      assert.match(String(ok.stdout), new RegExp(`kept 1, removed 2 \\(${old[1]} ${old[0]}\\)`), 'a run that succeeds does expire them');
    } finally {
      await execa('umount', [dir]);
    }
  });
});

test('two backups at once both finish, one after the other, with distinct names', async () => {
  await withSandbox(async (box) => {
    makeBackupDir(box);
    await box.startReady();
    await box.query('CREATE TABLE t AS SELECT generate_series(1, 1000) AS n');
    const held = await heldBackup(box);
    let second;
    try {
      second = runBackup(box);
      const pid = second.pid as number;
      await waitFor('the second backup to wait for the lock', () => processTree(pid).some((p) => commandOf(p)[0] === 'flock' && commandOf(p)[1] === '--wait'));
    } finally {
      await held.release();
    }
    const [a, b] = [await held.run, await second];
    assert.is(a.exitCode, 0, String(a.all));
    assert.is(b.exitCode, 0, String(b.all));
    assert.match(String(b.all), /another backup or restore is running: waiting up to 3600 s for it/);
    const names = (await listBackups(box)).map((row) => row.name);
    assert.is(names.length, 2);
    assert.is.not(names[0], names[1]);
    assert.equal(fs.readdirSync(backupDir(box)).filter((name) => name.startsWith('.') && name !== '.lock'), []);
  });
});

test('the backup needs no password: it logs in by peer over the socket', async () => {
  await withSandbox(async (box) => {
    makeBackupDir(box);
    await box.startReady();
    const result = await runBackup(box, [], { POSTGRES_PASSWORD_FILE: undefined, POSTGRES_PASSWORD: undefined, PGPASSWORD: undefined });
    assert.is(result.exitCode, 0, String(result.all));
    assert.match(String(result.stdout), /^backup: wrote poststack_\d{8}T\d{6}Z, [\d.]+ \w+ \(\d+ bytes\) in [\d.]+ s; kept 1, removed 0\n?$/);
    assert.is(String(result.stdout).trim().split('\n').length, 1, 'one line per run');
    assert.is(String(result.stderr), '', 'nothing else is logged');
  });
});

test.run();
