// restore.sh checks the whole file before it touches the server: a cut-off or damaged backup is
// refused with the reason and the database, the roles and the list of databases stay exactly as
// they were. The spec's `pg_dump | gzip` files restore too, and are checked the same way.
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync, gunzipSync } from 'node:zlib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skipUnless } from '../support/skip.js';
import { PG_BIN, postgresGid, postgresUid, sandboxMissing, withSandbox, type Sandbox } from '../image/sandbox.js';
import { backupNow, copyBackup, databases, fingerprint, makeBackupDir, nameDaysAgo, restoreNow, roles, runRestore } from './support.js';

const test = skipUnless(suite('backup: verify before restore'), sandboxMissing(), 'restore checks against PostgreSQL 15');

/** The state a refused restore must leave exactly as it was. */
async function state(box: Sandbox) {
  return { tables: await fingerprint(box), roles: await roles(box), databases: await databases(box) };
}

function largestFile(dir: string): string {
  const files = fs.readdirSync(dir).map((name) => path.join(dir, name));
  return files.reduce((a, b) => (fs.statSync(a).size >= fs.statSync(b).size ? a : b));
}

function writeAsPostgres(file: string, content: Buffer): void {
  fs.writeFileSync(file, content);
  fs.chownSync(file, postgresUid(), postgresGid());
}

async function assertRefused(box: Sandbox, args: string[], reason: RegExp, before: Awaited<ReturnType<typeof state>>): Promise<void> {
  const result = await runRestore(box, args);
  assert.is(result.exitCode, 1, String(result.all));
  assert.match(String(result.all), reason);
  assert.match(String(result.all), /refused .*nothing was changed/);
  assert.equal(await state(box), before, 'the database, the roles and the databases are as they were');
}

test('a truncated, damaged or incomplete backup is refused and nothing changes, even when it is the latest', async () => {
  await withSandbox(async (box) => {
    const dir = makeBackupDir(box);
    await box.startReady();
    await box.query("CREATE TABLE t AS SELECT n, md5(n::text) AS h FROM generate_series(1, 200000) n");
    const good = await backupNow(box);
    await box.query('DELETE FROM t WHERE n % 2 = 0');
    const before = await state(box);

    const truncated = nameDaysAgo(-1 / 1440);
    copyBackup(dir, good, truncated);
    const cut = largestFile(path.join(dir, truncated, 'database'));
    fs.truncateSync(cut, Math.floor(fs.statSync(cut).size / 2));
    await assertRefused(box, ['--latest'], new RegExp(`${path.basename(cut)}: FAILED[\\s\\S]*does not match its checksums`), before);

    const flipped = nameDaysAgo(-2 / 1440);
    copyBackup(dir, good, flipped);
    const file = largestFile(path.join(dir, flipped, 'database'));
    const bytes = fs.readFileSync(file);
    bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] as number) ^ 0x01;
    writeAsPostgres(file, bytes);
    await assertRefused(box, [flipped], /does not match its checksums/, before);

    const unsealed = nameDaysAgo(-3 / 1440);
    copyBackup(dir, good, unsealed);
    fs.rmSync(path.join(dir, unsealed, 'B2SUMS'));
    await assertRefused(box, [unsealed], /has no B2SUMS: it is not a complete backup/, before);

    await assertRefused(box, [path.join(dir, good, 'database', 'toc.dat')], /neither a backup directory nor a \*\.sql\.gz file/, before);

    // The good one still restores.
    await restoreNow(box, [good]);
    assert.is(await box.superuser('SELECT count(*) FROM t'), '200000');
  });
});

test("the spec's pg_dump | gzip files restore; cut-off ones are refused; one that fails part-way changes nothing", async () => {
  await withSandbox(async (box) => {
    const dir = makeBackupDir(box);
    await box.startReady();
    await box.query("CREATE SCHEMA app; CREATE TABLE app.t AS SELECT n, repeat('x', n % 100) AS s FROM generate_series(1, 20000) n; CREATE INDEX ON app.t (s)");
    // As the spec takes it: pg_dump over TCP as the application role, piped into gzip.
    const spec = path.join(dir, 'poststack_20240101_020000.sql.gz');
    const dump = await box.runAsPostgres('bash', ['-c', `set -o pipefail; ${PG_BIN}/pg_dump -h 127.0.0.1 -p ${box.port} -U poststack poststack | gzip > '${spec}'`], {
      env: { PGPASSWORD: box.password },
    });
    assert.is(dump.exitCode, 0, String(dump.all));
    const atDump = await fingerprint(box);
    await box.query('TRUNCATE app.t; CREATE TABLE app.later (x int)');
    const before = await state(box);

    const sql = gunzipSync(fs.readFileSync(spec));
    writeAsPostgres(path.join(dir, 'cut-gzip.sql.gz'), fs.readFileSync(spec).subarray(0, fs.statSync(spec).size - 100));
    await assertRefused(box, ['cut-gzip.sql.gz'], /is not a whole gzip file/, before);
    writeAsPostgres(path.join(dir, 'cut-dump.sql.gz'), gzipSync(sql.subarray(0, Math.floor(sql.length * 0.6))));
    await assertRefused(box, ['cut-dump.sql.gz'], /does not end as a finished pg_dump does/, before);

    const text = sql.toString('utf8');
    const failing = text.replace('CREATE INDEX', 'SELECT 1 / 0;\nCREATE INDEX');
    assert.is.not(failing, text);
    writeAsPostgres(path.join(dir, 'failing.sql.gz'), gzipSync(failing));
    const failed = await runRestore(box, ['failing.sql.gz']);
    assert.is(failed.exitCode, 3, String(failed.all));
    assert.match(String(failed.all), /division by zero[\s\S]*restore: error: the restore failed \(exit 3\): the database poststack was not changed/);
    assert.equal(await state(box), before);

    const output = await restoreNow(box, [path.basename(spec)]);
    assert.match(output, /holds no roles \(the spec's format\)/);
    assert.equal(await fingerprint(box), atDump);
  });
});

test.run();
