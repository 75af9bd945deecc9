// dump, dumps and restore --dump (the logical dumps) on the command line and in the library: against a recording
// stand-in for podman, and against the real scripts on a real server (podman exec mapped onto the
// image's scripts in a Sandbox).
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { dump as backup, formatDump as formatBackup } from '../../lib/commands/dump.js';
import { dumps as backups, formatDumps as formatBackups, parseDumpList as parseBackupList } from '../../lib/commands/dumps.js';
import { formatRestore, restore } from '../../lib/commands/restore.js';
import { contextFor } from '../../lib/context.js';
import type { CommandResult, Runner, RunOptions } from '../../lib/host/runner.js';
import { CONTAINER, isPgQuadletError, resolveConfig, unitNames } from '../../lib/index.js';
import { PG_BIN, sandboxMissing, withSandbox, type Sandbox } from '../image/sandbox.js';
import { backupDir, backupEnv, fingerprint, makeBackupDir } from '../backup/support.js';
import { FakeHost } from '../support/fake-host.js';
import { skipUnless } from '../support/skip.js';

const config = resolveConfig();
const NOW = Date.parse('2026-11-27T12:00:00Z');
const LIST = '1795744800\t14304847\tpoststack_20261127T020000Z\n1795658400\t14200000\tpoststack_20261126T020000Z\n';
const ok = (stdout: string, stderr = ''): CommandResult => ({ exitCode: 0, stdout, stderr });
const names = unitNames(config);
const allUnits = Object.values(names).filter((unit): unit is string => unit !== undefined);
/** A host where the service runs, as after install --now. */
const runningHost = () => new FakeHost().running(...allUnits);
const on = (runner: Runner) => contextFor(config, { runner });

const fake = suite('dump commands on a recorded host');

fake('backups lists what backup.sh list reports, newest first, with age and size', async () => {
  const host = runningHost();
  host.execs.set('/usr/local/bin/backup.sh list', ok(LIST));
  const list = await backups(on(host), { now: NOW });
  assert.equal(list, [
    { name: 'poststack_20261127T020000Z', takenAt: '2026-11-27T02:00:00.000Z', ageSeconds: 36000, sizeBytes: 14304847 },
    { name: 'poststack_20261126T020000Z', takenAt: '2026-11-26T02:00:00.000Z', ageSeconds: 122400, sizeBytes: 14200000 },
  ]);
  assert.equal(host.calls.map((call) => call.command).at(-1), 'podman exec poststack-postgres /usr/local/bin/backup.sh list');
  assert.is(
    formatBackups(list),
    [
      'NAME                        TAKEN (UTC)           AGE             SIZE',
      'poststack_20261127T020000Z  2026-11-27T02:00:00Z  10 h 0 min ago  13.6 MiB',
      'poststack_20261126T020000Z  2026-11-26T02:00:00Z  1 d 10 h ago    13.5 MiB',
    ].join('\n'),
  );
  assert.match(formatBackups([]), /No dumps yet: run pg-quadlet dump/);
  assert.throws(() => parseBackupList('garbage\n'), /unexpected line from backup.sh list/);
});

fake('backup runs backup.sh in the container and reports its file, size and time; a failure says why', async () => {
  const host = runningHost();
  host.execs.set('/usr/local/bin/backup.sh', ok('backup: wrote poststack_20261127T020000Z, 13.6 MiB (14304847 bytes) in 5.31 s; kept 3, removed 2 (poststack_20261101T020000Z poststack_20261031T020000Z)'));
  const result = await backup(on(host));
  assert.equal(result, { name: 'poststack_20261127T020000Z', sizeBytes: 14304847, seconds: 5.31, kept: 3, removed: ['poststack_20261101T020000Z', 'poststack_20261031T020000Z'] });
  assert.is(formatBackup(result), 'Dumped to poststack_20261127T020000Z: 13.6 MiB in 5.3 s (3 kept; removed 2 expired: poststack_20261101T020000Z, poststack_20261031T020000Z).');
  assert.equal(host.calls.map((call) => call.command).at(-1), 'podman exec poststack-postgres /usr/local/bin/backup.sh');

  host.execs.set('/usr/local/bin/backup.sh', { exitCode: 1, stdout: '', stderr: 'pg_dump: error: could not write\nbackup: error: the backup failed (exit 1): no backup was written and none was removed' });
  const error = await backup(on(host)).then(() => undefined, (e: unknown) => e);
  assert.ok(isPgQuadletError(error, 'PG_QUADLET_COMMAND'));
  assert.match((error as Error).message, /exit 1: backup: error: the backup failed \(exit 1\): no backup was written and none was removed$/);
});

fake('restore --dump restores a listed dump, streams progress and reports where the old database went', async () => {
  const host = runningHost();
  host.execs.set('/usr/local/bin/backup.sh list', ok(LIST));
  host.execs.set(
    '/usr/local/bin/restore.sh poststack_20261127T020000Z',
    ok(
      'restore: restored poststack_20261127T020000Z into poststack in 12.34 s; the database as it was is kept as poststack_pre_restore_20261127_120000 (connections refused; DROP DATABASE it once the restore is checked)',
      'restore: checking /data/postgres/backups/poststack_20261127T020000Z\nrestore: [1/2] TABLE t\nrestore: [2/2] TABLE DATA t',
    ),
  );
  const progress: string[] = [];
  const questions: string[] = [];
  const confirm = async (question: string) => (questions.push(question), true);
  const result = await restore(on(host), { dump: 'poststack_20261127T020000Z', confirm, onProgress: (line) => progress.push(line) });
  assert.match(questions[0] ?? '', /^Restore poststack_20261127T020000Z \(taken .* ago, 13\.6 MiB\) into the database poststack\?/);
  assert.equal(progress, ['restore: checking /data/postgres/backups/poststack_20261127T020000Z', 'restore: [1/2] TABLE t', 'restore: [2/2] TABLE DATA t']);
  assert.equal(result, { kind: 'dump', source: 'poststack_20261127T020000Z', database: 'poststack', seconds: 12.34, keptAs: 'poststack_pre_restore_20261127_120000', container: 'poststack-postgres' });
  assert.match(formatRestore(result), /podman exec poststack-postgres psql -U postgres -c 'DROP DATABASE poststack_pre_restore_20261127_120000'/);

  const unconfirmed = await restore(on(host), { dump: 'poststack_20261127T020000Z' }).then(() => undefined, (e: unknown) => e);
  assert.ok(isPgQuadletError(unconfirmed, 'PG_QUADLET_NOT_CONFIRMED'));
  assert.is((unconfirmed as Error).message, 'nothing was restored (answer yes, or pass --yes)');
});

fake('dump, dumps and restore --dump say in one line that the service is not running, and how to start it', async () => {
  for (const run of [(host: FakeHost) => backup(on(host)), (host: FakeHost) => backups(on(host)), (host: FakeHost) => restore(on(host), { dump: 'x', yes: true })]) {
    const host = new FakeHost();
    const error = await run(host).then(() => undefined, (e: unknown) => e);
    assert.ok(isPgQuadletError(error, 'PG_QUADLET_NOT_RUNNING'));
    assert.is((error as Error).message, 'poststack-postgres is not running: start it with systemctl start poststack-postgres.service');
    assert.not.ok(host.calls.some((call) => call.command.startsWith('podman exec')), 'nothing was run in a container');
  }
  const rootless = new FakeHost();
  const error = await backup(contextFor(resolveConfig({ rootless: true }), { runner: rootless })).then(() => undefined, (e: Error) => e);
  assert.match(error?.message ?? '', /start it with systemctl --user start poststack-postgres\.service$/);
});

fake.run();

const BIN = path.resolve(import.meta.dirname, '../../bin/pg-quadlet.ts');
const cli = (args: string[]) => execa(process.execPath, ['--import', 'tsx', BIN, ...args], { reject: false, stdin: 'ignore' });
const commandLine = suite('backup and dump commands on the command line');

commandLine('--help lists the backup and dump commands; restore needs one target, said in one line (exit 2)', async () => {
  const help = await cli(['--help']);
  for (const command of ['backup', 'backups', 'verify', 'dump', 'dumps', 'restore']) assert.ok(help.stdout.includes(`pg-quadlet ${command} `), command);
  const restoreHelp = await cli(['restore', '--help']);
  assert.match(restoreHelp.stdout, /--latest[\s\S]*--time[\s\S]*--dump[\s\S]*pg-quadlet restore --latest/);
  for (const [args, reason] of [
    [['restore'], /give --latest, --time TIME or --backup LABEL \(pgBackRest\), or --dump NAME\|FILE/],
    [['restore', '--latest', '--dump', 'x'], /give --latest, --time TIME or --backup LABEL/],
    [['restore', '--latest', '--time', '2026-11-29 10:00:00+00'], /--latest and --time are two different points: give one/],
  ] as const) {
    const result = await cli([...args]);
    assert.is(result.exitCode, 2, args.join(' '));
    assert.match(result.stderr, reason);
  }
});

commandLine.run();

/** `podman exec <container> /usr/local/bin/<script> ...` run as the Sandbox runs the image's
 * scripts, `podman cp` and `podman exec ... rm` onto the sandbox's backup directory, which stands
 * for the container's. */
function sandboxRunner(box: Sandbox): Runner & { execs: string[] } {
  const execs: string[] = [];
  const inBox = (containerPath: string) => path.join(backupDir(box), path.relative(CONTAINER.backupDir, containerPath));
  return {
    execs,
    async run(file: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
      // The sandbox's server stands for the running container.
      if (file === 'podman' && args[0] === 'inspect') return { exitCode: 0, stdout: 'true', stderr: '' };
      if (file === 'podman' && args[0] === 'cp') {
        const [source, destination] = args.slice(-2) as [string, string];
        execs.push(args.join(' '));
        const copy = inBox(destination.slice(`${config.name}:`.length));
        fs.cpSync(source, copy, { recursive: true });
        await execa('chown', ['-R', 'postgres:postgres', copy]);
        return { exitCode: 0, stdout: '', stderr: '' };
      }
      const [verb, container, command, ...rest] = args;
      if (file === 'podman' && verb === 'exec' && container === config.name && command === 'rm') {
        execs.push(['rm', ...rest].join(' '));
        fs.rmSync(inBox(rest.at(-1) as string), { recursive: true, force: true });
        return { exitCode: 0, stdout: '', stderr: '' };
      }
      if (file !== 'podman' || verb !== 'exec' || container !== config.name || !command?.startsWith('/usr/local/bin/')) {
        return { exitCode: 125, stdout: '', stderr: `not a podman exec of a script: ${file} ${args.join(' ')}` };
      }
      execs.push([path.basename(command), ...rest].join(' '));
      const boxArgs = rest.map((arg) => (arg.startsWith(`${CONTAINER.backupDir}/`) ? inBox(arg) : arg));
      const result = await box.runAsPostgres(path.join(box.paths.scripts, path.basename(command)), boxArgs, { env: backupEnv(box) });
      // The scripts speak of the container's paths, as they would in the container.
      const inContainer = (text: unknown) => String(text).replaceAll(backupDir(box), CONTAINER.backupDir);
      const stderr = inContainer(result.stderr);
      if (options.onStderrLine) for (const line of stderr.split('\n').filter(Boolean)) options.onStderrLine(line);
      return { exitCode: result.exitCode ?? 1, stdout: inContainer(result.stdout), stderr };
    },
  };
}

const live = skipUnless(suite('dump commands against the real scripts'), sandboxMissing(), 'backup commands against PostgreSQL 15');

live('dump, dumps and restore --dump work end to end through podman exec', async () => {
  await withSandbox(async (box) => {
    makeBackupDir(box);
    await box.startReady();
    await box.query('CREATE TABLE t AS SELECT generate_series(1, 1000) AS n');
    const runner = sandboxRunner(box);
    const before = await fingerprint(box);
    const taken = await backup(on(runner));
    assert.match(taken.name, /^poststack_\d{8}T\d{6}Z$/);
    assert.ok(taken.sizeBytes > 1000);

    const list = await backups(on(runner));
    assert.equal(list.map((item) => [item.name, item.sizeBytes]), [[taken.name, taken.sizeBytes]]);
    assert.ok(list[0] && list[0].ageSeconds < 60);

    await box.query('DELETE FROM t');
    const progress: string[] = [];
    const result = await restore(on(runner), { dump: taken.name, yes: true, onProgress: (line) => progress.push(line) });
    assert.is(result.kind === 'dump' && result.source, taken.name);
    assert.match(result.keptAs ?? '', /^poststack_pre_restore_\d{8}_\d{6}$/);
    assert.ok(progress.some((line) => /^restore: \[\d+\/\d+\] TABLE DATA t$/.test(line)), progress.join('\n'));
    assert.equal(await fingerprint(box), before);
    assert.equal(runner.execs, ['backup.sh', 'backup.sh list', 'backup.sh list', `restore.sh ${taken.name}`]);
  });
});

live("restore FILE takes the spec's pg_dump | gzip from this host: copied in under a hidden name, restored, removed", async () => {
  await withSandbox(async (box) => {
    makeBackupDir(box);
    await box.startReady();
    await box.query('CREATE TABLE t AS SELECT generate_series(1, 1000) AS n');
    const hostDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-quadlet-host-'));
    try {
      const spec = path.join(hostDir, 'backup_20260101_020000.sql.gz');
      const dump = await execa('bash', ['-c', `set -o pipefail; ${PG_BIN}/pg_dump -h 127.0.0.1 -p ${box.port} -U poststack poststack | gzip > "$1"`, 'dump', spec], {
        env: { PGPASSWORD: box.password },
      });
      assert.is(dump.exitCode, 0);
      const before = await fingerprint(box);
      await box.query('DROP TABLE t');
      const runner = sandboxRunner(box);

      const progress: string[] = [];
      const questions: string[] = [];
      const confirm = async (question: string) => (questions.push(question), true);
      const result = await restore(on(runner), { dump: path.relative(process.cwd(), spec), confirm, onProgress: (line) => progress.push(line) });
      assert.match(questions[0] ?? '', new RegExp(`^Restore ${spec} \\(a file on this host\\) into the database poststack`), 'a relative host path, made absolute');
      assert.is(result.kind === 'dump' && result.source, spec, 'the report names the host file');
      assert.equal(await fingerprint(box), before, 'the table is back');
      assert.is(progress[0], `restore: copying ${spec} into the container`);
      const [list, cp, restored, rm] = runner.execs;
      assert.is(list, 'backup.sh list');
      assert.match(cp ?? '', new RegExp(`^cp -- ${spec} poststack-postgres:/data/postgres/backups/\\.upload-[0-9a-f-]{36}\\.sql\\.gz$`));
      const copy = (cp ?? '').split(':').at(-1);
      assert.equal([restored, rm], [`restore.sh ${copy}`, `rm -rf -- ${copy}`]);
      assert.equal(fs.readdirSync(backupDir(box)).filter((name) => !name.startsWith('.lock')), [], 'the copy is gone; no backup was added');
      assert.ok(fs.existsSync(spec), "the host's file stays");

      const notes = path.join(hostDir, 'notes.txt');
      fs.writeFileSync(notes, 'not a backup');
      const refused = await restore(on(runner), { dump: notes, yes: true }).then(() => 'restored', (e: Error) => e.message);
      assert.is(refused, `${notes} is neither a dump directory nor a *.sql.gz file: nothing was restored`);

      // A damaged file: refused once, as the error, naming the user's file and not the copy.
      const damaged = path.join(hostDir, 'damaged.sql.gz');
      fs.writeFileSync(damaged, fs.readFileSync(spec).subarray(0, 200));
      const lines: string[] = [];
      const failure = await restore(on(runner), { dump: damaged, yes: true, onProgress: (line) => lines.push(line) }).then(() => undefined, (e: Error) => e);
      assert.ok(isPgQuadletError(failure, 'PG_QUADLET_COMMAND'), String(failure));
      assert.match(failure?.message ?? '', new RegExp(`^${damaged} is not a whole gzip file \\(cut off or damaged\\); refused ${damaged}: nothing was changed$`));
      assert.not.ok(lines.some((line) => line.includes('error')), `the refusal is not also a progress line: ${lines.join('\n')}`);
      assert.not.ok([failure?.message, ...lines].some((line) => line?.includes('.upload-')), 'the hidden copy is never named');
    } finally {
      fs.rmSync(hostDir, { recursive: true, force: true });
    }
  });
});

live.run();
