// The off-host repository (repo2) on a real S3-compatible server over TLS, and encryption, against
// real PostgreSQL 15 and real pgBackRest 2.45: what a host that lost both volumes gets back, what
// the stored objects reveal, and what an unreachable store costs.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skipUnless } from '../support/skip.js';
import { postgresGid, postgresUid, withSandbox, type Sandbox } from '../image/sandbox.js';
import {
  archivedSegments,
  archiver,
  backupsNow,
  crash,
  pgbackrestMissing,
  pgbackrestOk,
  runPgbackrest,
  startRestored,
  switchWal,
  waitArchived,
} from './pgbackrest-support.js';
import { filesUnder, startS3, type S3Server } from './s3-server.js';
import { waitFor } from './support.js';

const test = skipUnless(suite('backup: pgBackRest off-host repository and encryption'), pgbackrestMissing(), 'pgBackRest with S3 (s3rver) against PostgreSQL 15');

const names = async (box: Sandbox) => (await box.query('SELECT name FROM items ORDER BY id')).map((r) => r.name);

async function withS3(body: (box: Sandbox, s3: S3Server) => Promise<void>): Promise<void> {
  await withSandbox(async (box) => {
    const s3 = await startS3(box);
    try {
      await body(box, s3);
    } finally {
      await s3.stop();
    }
  });
}

/** A passphrase as install makes one, in a file as the Podman secret arrives. */
function passphraseFile(box: Sandbox): { file: string; value: string } {
  const value = randomBytes(48).toString('base64url');
  const file = path.join(box.dir, 'secrets/backup-passphrase');
  fs.writeFileSync(file, `${value}\n`, { mode: 0o400 });
  fs.chownSync(file, postgresUid(), postgresGid());
  return { file, value };
}

/** The segment names archived into the S3 bucket. */
function segmentsInS3(s3: S3Server): string[] {
  return [...new Set(filesUnder(s3.dir).map((f) => /([0-9A-F]{24})-[0-9a-f]{40}/.exec(f)?.[1]).filter((s): s is string => !!s))].sort();
}

test('backups go into both repositories; with both volumes lost, a restore from the off-host one alone brings back the last archived commit, and backups go on', async () => {
  await withS3(async (box, s3) => {
    const env = { ...s3.env, POSTGRES_ARCHIVE_TIMEOUT: '1' };
    const server = await box.startReady({ env });
    assert.match(server.output(), /pgBackRest stanza 'main' is ready in \S+ and s3:\/\/localhost\/pg-backups\/pgbackrest: WAL is archived there/);
    await box.query("CREATE TABLE items (id serial PRIMARY KEY, name text); INSERT INTO items (name) VALUES ('backed-up')");
    const taken = await backupsNow(box, 'full', env);
    assert.equal(taken.map((b) => [b.repo, b.type]), [[1, 'full'], [2, 'full']]);
    assert.ok(filesUnder(path.join(s3.dir, 'pgbackrest/backup/main', taken[1]?.label ?? '?')).length > 0, 'the backup is in the bucket');

    await box.query("INSERT INTO items (name) VALUES ('last')");
    const segment = await box.superuser('SELECT pg_walfile_name(pg_current_wal_lsn())', 'postgres');
    await waitArchived(box, segment, 15_000);
    await waitFor(`segment ${segment} in the bucket`, () => segmentsInS3(s3).includes(segment), 15_000);
    await crash(server);
    // The host lost both volumes: the data directory, the spool beside it, and the local repository.
    for (const dir of [box.paths.pgdata, box.paths.pgbackrestSpool, box.paths.pgbackrestRepo]) fs.rmSync(dir, { recursive: true });

    const restored = await pgbackrestOk(box, ['restore', '--latest', '--repo', '2'], env);
    assert.match(restored, new RegExp(`^pgbackrest\\.sh: restored ${taken[1]?.label} from repo2 into ${box.paths.pgdata}, to the end of the archived WAL`, 'm'));
    const again = await startRestored(box, env);
    assert.equal(await names(box), ['backed-up', 'last']);
    assert.match(again.output(), /has no stanza 'main' \(a new or emptied backup volume\): creating it from the restored cluster/, 'before the server starts, so the new timeline can be archived');

    const after = await backupsNow(box, 'full', env);
    assert.equal(after.map((b) => b.repo), [1, 2], 'the new backup volume and the bucket both take backups again');
    assert.is(await box.stop(again), 0);
  });
});

test('encrypted: no file in either repository holds a marker written into the database, both verify, and the passphrase appears in no log or argument', async () => {
  await withS3(async (box, s3) => {
    const passphrase = passphraseFile(box);
    const env = { ...s3.env, POSTGRES_BACKUP_ENCRYPT: 'aes-256-cbc', POSTGRES_BACKUP_PASSPHRASE_FILE: passphrase.file };
    const server = await box.startReady({ env });
    const marker = `pgq-marker-${randomBytes(16).toString('hex')}`;
    await box.query(`CREATE TABLE secrets AS SELECT '${marker}' || n AS value FROM generate_series(1, 2000) n`);
    await box.superuser('CHECKPOINT', 'postgres');
    const taken = await runPgbackrest(box, ['backup', 'full'], env);
    assert.is(taken.exitCode, 0, String(taken.all));
    await waitArchived(box, await switchWal(box));

    const holds = (file: string) => fs.readFileSync(file).includes(marker);
    assert.ok(filesUnder(box.paths.pgdata).some(holds), 'the marker is in the data files (the search finds it where it is plain)');
    const stored = [...filesUnder(box.paths.pgbackrestRepo), ...filesUnder(s3.dir)];
    assert.ok(stored.length > 20, `the repositories hold the backup and WAL (${stored.length} files)`);
    assert.equal(stored.filter(holds), [], 'no stored file reveals the marker');

    const verified = await pgbackrestOk(box, ['verify'], env);
    assert.match(verified, /verify passed: every file in repo1 .*\n.*verify passed: every file in repo2 \(s3:\/\/localhost\/pg-backups\/pgbackrest\)/);
    for (const text of [server.output(), String(taken.all), verified]) {
      assert.not.ok(text.includes(passphrase.value) || text.includes('S3RVER'), 'no secret in the output');
    }
    const config = path.join(box.paths.socket, 'pgbackrest/pgbackrest.conf');
    assert.is(fs.statSync(config).mode & 0o077, 0, 'the configuration holding the secrets is private to postgres');
    assert.is(await box.stop(server), 0);

    const plain = box.start({ env: { ...s3.env, POSTGRES_BACKUP_ENCRYPT: 'none' } });
    assert.is(await plain.exited, 78, 'turning encryption off over an encrypted repository stops the start, not restarted');
    assert.match(plain.output(), /repository \S+ is encrypted, and POSTGRES_BACKUP_ENCRYPT is none/);
  });
});

test('an unreachable off-host store: the archiver reports the failure and PostgreSQL keeps the WAL; when the store returns, both repositories catch up with no segment lost', async () => {
  await withS3(async (box, s3) => {
    // How long archive_command waits for the asynchronous push before it reports a failure
    // (pgBackRest's archive-timeout, 60 s by default).
    const env = { ...s3.env, PGBACKREST_ARCHIVE_TIMEOUT: '10' };
    const server = await box.startReady({ env });
    await box.query('CREATE TABLE items (id serial PRIMARY KEY, name text)');
    await waitArchived(box, await switchWal(box));

    // Stopped, not gone: connections hang until pgBackRest's io-timeout, the worst kind of outage.
    s3.pause();
    let lastSwitched = '';
    for (let i = 0; i < 3; i++) {
      await box.query(`INSERT INTO items (name) VALUES ('during ${i}')`);
      lastSwitched = await switchWal(box);
    }
    await waitFor('the archiver to report a failure', async () => (await archiver(box)).failed > 0, 60_000);
    const walStatus = path.join(box.paths.pgdata, 'pg_wal/archive_status');
    assert.ok(fs.readdirSync(walStatus).some((f) => f.endsWith('.ready')), 'PostgreSQL keeps the segments not archived everywhere');

    s3.resume();
    await waitArchived(box, lastSwitched, 120_000);
    const local = archivedSegments(box);
    assert.ok(local.includes(lastSwitched));
    await waitFor('every segment in the bucket too', () => local.every((segment) => segmentsInS3(s3).includes(segment)), 30_000);
    assert.equal(await names(box), ['during 0', 'during 1', 'during 2']);
    const after = await backupsNow(box, 'full', env);
    assert.equal(after.map((b) => b.repo), [1, 2], 'the next backup reaches both');
    assert.is(await box.stop(server), 0);
  });
});

test.run();
