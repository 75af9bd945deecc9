// Retention: after a successful backup, backups older than BACKUP_KEEP_DAYS go, except the newest
// BACKUP_KEEP_MIN, whatever their age; a failed run removes nothing; files that are not backups are
// never touched.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skipUnless } from '../support/skip.js';
import { sandboxMissing, withSandbox } from '../image/sandbox.js';
import { backupLike, backupNow, copyBackup, listBackups, makeBackupDir, nameDaysAgo, runBackup } from './support.js';

const test = skipUnless(suite('backup: retention'), sandboxMissing(), 'backup retention against PostgreSQL 15');

test('old backups go after a good run, except the newest few; a failed run removes none', async () => {
  await withSandbox(async (box) => {
    const dir = makeBackupDir(box);
    await box.startReady();
    const seed = await backupNow(box);
    const [d40, d30, d20] = [nameDaysAgo(40), nameDaysAgo(30), nameDaysAgo(20)];
    for (const name of [d40, d30, d20]) copyBackup(dir, seed, name);
    fs.rmSync(path.join(dir, seed), { recursive: true });

    const failed = await runBackup(box, [], { POSTGRES_DB: 'missing', BACKUP_KEEP_MIN: '1' });
    assert.is(failed.exitCode, 1);
    assert.match(String(failed.all), /database "missing" does not exist/);
    assert.equal(backupLike(dir), [d20, d30, d40].sort(), 'a failed run removes nothing');

    const first = await backupNow(box, { BACKUP_KEEP_DAYS: '7', BACKUP_KEEP_MIN: '3' });
    assert.equal((await listBackups(box)).map((b) => b.name), [first, d20, d30], 'the newest three stay although two are old');

    const [inside, outside] = [nameDaysAgo(6.9), nameDaysAgo(7.1)];
    copyBackup(dir, first, inside);
    copyBackup(dir, first, outside);
    const second = await runBackup(box, [], { BACKUP_KEEP_DAYS: '7', BACKUP_KEEP_MIN: '1' });
    assert.is(second.exitCode, 0, String(second.all));
    const name = /wrote (\S+),/.exec(String(second.stdout))?.[1];
    assert.equal((await listBackups(box)).map((b) => b.name), [name, first, inside]);
    assert.match(String(second.stdout), new RegExp(`kept 3, removed 3 \\(${outside} ${d20} ${d30}\\)$`, 'm'));
  });
});

test('hundreds of backups: the listing is newest first, and expiry keeps exactly the right ones', async () => {
  await withSandbox(async (box) => {
    const dir = makeBackupDir(box);
    await box.startReady();
    const seed = await backupNow(box);
    const now = Date.now();
    const copies = Array.from({ length: 300 }, (_, day) => nameDaysAgo(day + 1 / 24, now));
    for (const name of copies) copyBackup(dir, seed, name);
    fs.rmSync(path.join(dir, seed), { recursive: true });
    const strangers = ['notes.txt', 'poststack_20240101.sql.gz', 'poststack_manual', 'other_2024-01-01'];
    fs.writeFileSync(path.join(dir, strangers[0] as string), 'keep me');
    fs.writeFileSync(path.join(dir, strangers[1] as string), '');
    fs.mkdirSync(path.join(dir, strangers[2] as string));
    fs.mkdirSync(path.join(dir, strangers[3] as string));

    const listed = await listBackups(box);
    assert.equal(listed.map((b) => b.name), copies, 'newest first, and only backups');
    const first = listed[0];
    assert.ok(first);
    assert.ok(Math.abs(first.epoch * 1000 - (now - 3_600_000)) < 2000, 'the time is the one in the name');
    assert.ok(listed.every((b) => b.bytes > 1000 && b.bytes === first.bytes), 'sizes are the copies\' sizes');

    const result = await runBackup(box, [], { BACKUP_KEEP_DAYS: '7', BACKUP_KEEP_MIN: '3' });
    assert.is(result.exitCode, 0, String(result.all));
    const name = /wrote (\S+),/.exec(String(result.stdout))?.[1] as string;
    assert.match(String(result.stdout), /kept 8, removed 293 \(/);
    assert.equal((await listBackups(box)).map((b) => b.name), [name, ...copies.slice(0, 7)]);
    assert.equal(backupLike(dir), [name, ...copies.slice(0, 7), ...strangers].sort());
    assert.is(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8'), 'keep me');
    assert.equal(fs.readdirSync(dir).filter((entry) => entry.startsWith('.del-')), []);
  });
});

test.run();
