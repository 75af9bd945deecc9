// backup, backups, verify, restore (pgBackRest) and what status says of backups, on a recording
// stand-in for podman and systemctl: the commands run, in which order, and what a failure leaves.
// pgbackrest.sh itself is tested against real PostgreSQL and pgBackRest in test/backup/, and the
// whole chain with real Podman and systemd in the end-to-end scenario.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { backup, formatBackup } from '../../lib/commands/backup.js';
import { backups, formatBackups, parseInfo } from '../../lib/commands/backups.js';
import { formatRestore, restore } from '../../lib/commands/restore.js';
import { status } from '../../lib/commands/status.js';
import { verify } from '../../lib/commands/verify.js';
import { contextFor } from '../../lib/context.js';
import { isPgQuadletError, resolveConfig, unitNames } from '../../lib/index.js';
import { FakeHost, ok } from '../support/fake-host.js';

const config = resolveConfig();
const names = unitNames(config);
const NOW = Date.parse('2026-11-29T12:00:00Z');
const at = (iso: string) => Date.parse(iso) / 1000;
const set = (label: string, type: string, stop: string, delta: number) => ({
  label, type, timestamp: { start: at(stop) - 5, stop: at(stop) }, info: { size: 800_000_000, repository: { size: 40_000_000, delta } }, database: { id: 1, 'repo-key': 1 },
});
const INFO = JSON.stringify([{ name: 'main', backup: [set('20261122-013000F', 'full', '2026-11-22T01:30:05Z', 39_000_000), set('20261122-013000F_20261129-020000D', 'diff', '2026-11-29T02:00:05Z', 2_000_000)] }]);
const BACKUP_LINE = 'pgbackrest.sh: backup 20261129-020000F_20261129-120000D (diff) in repo1, 763 MiB (800000000 bytes), stored 1.9 MiB (2000000 bytes) in 3.61 s; kept 3, expired 1 (20261115-013000F)';
const RESTORE_LINE = 'pgbackrest.sh: restored 20261122-013000F_20261129-020000D into /data/postgres/pgdata, to the end of the archived WAL, in 4.10 s; the next start replays WAL from the archive and promotes (pgbackrest.sh wait-promoted)';
const ASIDE = '/data/postgres/pgdata.before-restore-20261129T120000Z';

function host(): FakeHost {
  const fake = new FakeHost().running(...Object.values(names).filter((unit): unit is string => unit !== undefined));
  fake.execs.set('/usr/local/bin/pgbackrest.sh info', ok(INFO));
  fake.execs.set('/usr/local/bin/pgbackrest.sh backup diff', ok(BACKUP_LINE));
  fake.execs.set('/usr/local/bin/pgbackrest.sh backup full', ok(BACKUP_LINE.replace('(diff)', '(full)')));
  fake.execs.set('/usr/local/bin/pgbackrest.sh wait-promoted 600', ok('pgbackrest.sh: the server is out of recovery'));
  fake.oneShots.set('/usr/local/bin/pgbackrest.sh set-aside --stopped', ok(`${ASIDE}\n`));
  fake.oneShots.set('/usr/local/bin/pgbackrest.sh restore --latest', ok(RESTORE_LINE));
  fake.oneShots.set(`/usr/local/bin/pgbackrest.sh put-back ${ASIDE}`, ok(''));
  return fake;
}
const on = (runner: FakeHost) => contextFor(config, { runner });

test("backup takes the config's type in the running container (full on request) and reports label, sizes and what expired", async () => {
  const fake = host();
  const result = await backup(on(fake));
  assert.equal(result.backups, [{ label: '20261129-020000F_20261129-120000D', type: 'diff', repo: 1, sizeBytes: 800_000_000, storedBytes: 2_000_000, seconds: 3.61, kept: 3, expired: ['20261115-013000F'] }]);
  assert.is(formatBackup(result), 'Took the differential backup 20261129-020000F_20261129-120000D of 762.9 MiB into the backup volume (repo1), stored as 1.9 MiB, in 3.6 s (3 there; expired 1: 20261115-013000F).');
  assert.is(fake.calls.at(-1)?.command, 'podman exec poststack-postgres /usr/local/bin/pgbackrest.sh backup diff');
  assert.is((await backup(on(fake), { type: 'full' })).backups[0]?.type, 'full');
});

test('backup with an off-host repository reports one backup per repository', async () => {
  const fake = host();
  const second = BACKUP_LINE.replace('in repo1', 'in repo2').replace('kept 3, expired 1 (20261115-013000F)', 'kept 2, expired 0');
  fake.execs.set('/usr/local/bin/pgbackrest.sh backup diff', ok(`${BACKUP_LINE}\n${second}\n`));
  const result = await backup(on(fake));
  assert.equal(result.backups.map((b) => [b.repo, b.kept, b.expired]), [[1, 3, ['20261115-013000F']], [2, 2, []]]);
  assert.match(formatBackup(result), /\(repo1\)[^\n]*\n.*into the off-host repository \(repo2\)/);
});

test('backups lists the repository newest first, with the window a restore can reach', async () => {
  const fake = host();
  const result = await backups(on(fake), { now: NOW });
  assert.equal(result.backups.map((item) => [item.label, item.type, item.storedBytes, item.ageSeconds]), [
    ['20261122-013000F_20261129-020000D', 'diff', 2_000_000, 35995],
    ['20261122-013000F', 'full', 39_000_000, 642595],
  ]);
  assert.equal(result.recoveryWindow, { from: '2026-11-22T01:30:05.000Z', to: '2026-11-29T02:00:05.000Z' });
  assert.equal(parseInfo(INFO, '2026-11-29T11:59:00.000Z', NOW).recoveryWindow.to, '2026-11-29T11:59:00.000Z', 'the last archived change, when newer');
  assert.match(formatBackups(result), /^LABEL +TYPE +FINISHED \(UTC\)[\s\S]*differential[\s\S]*A restore can reach any time from 2026-11-22T01:30:05.000Z to 2026-11-29T02:00:05.000Z\.$/);
  assert.match(formatBackups(parseInfo('[{"name":"main","backup":[]}]', null)), /No backups yet/);
});

test('verify fails with the damaged file named', async () => {
  const fake = host();
  fake.execs.set('/usr/local/bin/pgbackrest.sh verify', { exitCode: 1, stdout: '', stderr: "pgbackrest.sh: error: verify found damage in /data/postgres/backups/pgbackrest: invalid checksum '20261122-013000F/bundle/1'" });
  const error = await verify(on(fake)).then(() => undefined, (e: Error) => e);
  assert.match(error?.message ?? '', /verify found damage .*invalid checksum '20261122-013000F\/bundle\/1'$/);
});

test('restore --latest: stop, the data directory aside, restore in a one-shot container, start, wait until promoted', async () => {
  const fake = host();
  const questions: string[] = [];
  const result = await restore(on(fake), { latest: true, confirm: async (question) => (questions.push(question), true) });
  assert.match(questions[0] ?? '', /^Restore poststack-postgres from 20261122-013000F_20261129-020000D to the last archived change\? The service is stopped/);
  const steps = fake.mutatingCalls().map((call) => call.replace(/^podman run .* localhost\/postgres-debian:15 /, 'one-shot '));
  assert.equal(steps, [
    'systemctl stop poststack-postgres.service',
    'one-shot /usr/local/bin/pgbackrest.sh set-aside --stopped',
    'one-shot /usr/local/bin/pgbackrest.sh restore --latest',
    'systemctl start poststack-postgres.service',
    'podman exec poststack-postgres /usr/local/bin/pgbackrest.sh wait-promoted 600',
  ]);
  const oneShot = fake.calls.find((call) => call.command.startsWith('podman run'))?.command ?? '';
  for (const part of ['--rm', '--read-only', '--cap-drop=all', '--volume=poststack-postgres-data:/data/postgres', '--volume=poststack-postgres-backups:/data/postgres/backups']) {
    assert.ok(oneShot.split(' ').includes(part), `the one-shot container has ${part}`);
  }
  assert.equal([result.kind, result.kind === 'backup' && result.label, result.keptAs], ['backup', '20261122-013000F_20261129-020000D', ASIDE]);
  assert.match(formatRestore(result), /healthy, out of recovery, taking writes\.\nThe data directory as it was is kept at \/data\/postgres\/pgdata\.before-restore-20261129T120000Z/);
});

test('restore --repo 2 restores from the off-host repository alone; the one-shot container gets its keys as Podman secrets', async () => {
  const withS3 = resolveConfig({ backup: { encrypt: true, s3: { endpoint: 's3.example.com', bucket: 'backups', region: 'eu-central-1' } } });
  const fake = host();
  const both = JSON.stringify([{ name: 'main', backup: [set('20261122-013000F', 'full', '2026-11-22T01:30:05Z', 39_000_000), { ...set('20261122-013100F', 'full', '2026-11-22T01:31:05Z', 39_000_000), database: { id: 1, 'repo-key': 2 } }] }]);
  fake.execs.set('/usr/local/bin/pgbackrest.sh info', ok(both));
  fake.oneShots.set('/usr/local/bin/pgbackrest.sh restore --latest --repo 2', ok(RESTORE_LINE.replace(' into ', ' from repo2 into ').replace('20261122-013000F_20261129-020000D', '20261122-013100F')));
  const questions: string[] = [];
  const result = await restore(contextFor(withS3, { runner: fake }), { latest: true, repo: 2, confirm: async (question) => (questions.push(question), true) });
  assert.match(questions[0] ?? '', /^Restore poststack-postgres from 20261122-013100F in repo2 to the last archived change\?/);
  assert.equal([result.kind, result.kind === 'backup' && result.label], ['backup', '20261122-013100F']);
  const oneShot = fake.calls.find((call) => call.command.includes('restore --latest --repo 2'))?.command.split(' ') ?? [];
  assert.ok(oneShot.includes('--secret=poststack-postgres-s3-keys,type=mount,target=backup-s3-keys,uid=999,gid=999,mode=0400'));
  assert.ok(oneShot.includes('--secret=poststack-postgres-backup-passphrase,type=mount,target=backup-passphrase,uid=999,gid=999,mode=0400'));
  assert.ok(oneShot.includes('--env=PGBACKREST_REPO2_S3_BUCKET=backups'));
  const refused = await restore(on(fake), { latest: true, repo: 2, yes: true }).then(() => undefined, (e: Error) => e);
  assert.match(String(refused), /--repo 2 is not a repository of poststack-postgres: 1 is the backup volume, and there is no off-host one \(backup\.s3\)/);
});

test('a restore that fails puts the data directory as it was back and starts it, and says so', async () => {
  const fake = host();
  fake.oneShots.set('/usr/local/bin/pgbackrest.sh restore --latest', { exitCode: 1, stdout: '', stderr: 'pgbackrest.sh: error: the restore failed (its error is above): /data/postgres/pgdata was not changed' });
  const error = await restore(on(fake), { latest: true, yes: true }).then(() => undefined, (e: Error) => e);
  assert.match(error?.message ?? '', /^the restore failed \(.*pgdata was not changed\); the data directory as it was is back, and poststack-postgres runs on it$/);
  const steps = fake.mutatingCalls().map((call) => call.replace(/^podman run .* localhost\/postgres-debian:15 /, 'one-shot '));
  assert.equal(steps.slice(3), [
    'systemctl stop poststack-postgres.service',
    'one-shot /usr/local/bin/pgbackrest.sh set-aside --stopped',
    `one-shot /usr/local/bin/pgbackrest.sh put-back ${ASIDE}`,
    'systemctl start poststack-postgres.service',
  ]);
});

test('nothing to restore, an unknown label or a time before the window are refused before anything stops', async () => {
  const empty = host();
  empty.execs.set('/usr/local/bin/pgbackrest.sh info', ok('[{"name":"main","backup":[]}]'));
  for (const [fake, options, reason] of [
    [empty, { latest: true }, /there is no backup in the repository to restore/],
    [host(), { backup: '20250101-000000F' }, /there is no backup 20250101-000000F in the repository/],
    [host(), { time: '2026-11-01 00:00:00+00' }, /is before the oldest point a restore can reach \(2026-11-22T01:30:05\.000Z\)/],
  ] as const) {
    const error = await restore(on(fake), { ...options, yes: true }).then(() => undefined, (e: unknown) => e);
    assert.ok(isPgQuadletError(error, 'PG_QUADLET_REFUSED'), String(error));
    assert.match((error as Error).message, reason);
    assert.equal(fake.mutatingCalls(), [], 'nothing was stopped or changed');
  }
});

test('status says when there is no backup, or the newest is older than twice the schedule', async () => {
  const connection = { host: '127.0.0.1', port: 1, connectionTimeoutMillis: 200 };
  const fake = host();
  fake.execs.set('/usr/local/bin/pgbackrest.sh info', ok('[{"name":"main","backup":[]}]'));
  assert.ok((await status(on(fake), { connection })).problems.includes('there is no backup yet: take one with pg-quadlet backup (the timers take the next)'));
  const old = host();
  old.execs.set('/usr/local/bin/pgbackrest.sh info', ok(JSON.stringify([{ name: 'main', backup: [set('20261101-013000F', 'full', '2026-11-01T01:30:05Z', 1)] }])));
  const seen = await status(on(old), { connection });
  assert.ok(seen.problems.some((problem) => /^the newest backup \(20261101-013000F\) is \d+ d \d+ h old, more than twice the backup schedule's 1 d 0 h: see journalctl -u poststack-postgres-backup\.service$/.test(problem)), seen.problems.join('\n'));
  assert.is(seen.newestBackup?.label, '20261101-013000F');
});

test.run();
