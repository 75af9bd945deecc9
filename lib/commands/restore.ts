/**
 * `restore`: the database back from a backup.
 *
 * From pgBackRest (`latest`, `time`, `backup`): the service is stopped, its data directory moved
 * aside on the same volume (a rename), the backup restored in a one-shot container of the same
 * image on the same volumes, and the service started; it replays the archived WAL to the target and
 * promotes. Any failure puts the previous data directory back and starts it.
 *
 * From a logical dump (`dump`): restore.sh in the running container checks the whole dump first and
 * swaps the restored database in only once it is complete (docs/backup-restore.md).
 *
 * Either way the choice is made and confirmed first, so that the very backup a person confirmed
 * is restored, even if a newer one lands in between.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CONTAINER, SCRIPT } from '../core/container-contract.js';
import { NotConfirmedError, PgQuadletError, RefusedError } from '../core/errors.js';
import { formatAge, formatBytes } from '../core/format.js';
import { unitNames } from '../core/render.js';
import type { Context } from '../context.js';
import { performAction, systemctl } from '../host/actions.js';
import { oneShot } from '../host/one-shot.js';
import { Podman } from '../host/podman.js';
import { CommandError, lastLine, runChecked } from '../host/runner.js';
import { backups, parseInfo, type BackupsResult } from './backups.js';
import { dumps, type Dump } from './dumps.js';

export interface RestoreOptions {
  /** pgBackRest: the newest backup and all archived WAL after it. */
  readonly latest?: boolean;
  /** pgBackRest: the state at this time, `YYYY-MM-DD HH:MM:SS+00`. */
  readonly time?: string;
  /** pgBackRest: this backup (a label from `backups`); with `latest` or `time`, WAL after it too. */
  readonly backup?: string;
  /** pgBackRest: from this repository only: 1 the backup volume, 2 the off-host one (`backup.s3`),
   * e.g. after the backup volume was lost. By default pgBackRest picks the newest backup of all. */
  readonly repo?: number;
  /** pgBackRest: do not keep the data directory as it was (it is kept until the restore works). */
  readonly discardCurrent?: boolean;
  /** A logical dump instead: a name from `dumps`, or a dump directory or `*.sql.gz` on this host. */
  readonly dump?: string;
  /** Restore without asking. */
  readonly yes?: boolean;
  /** Asked before anything changes; without it (and without `yes`) the restore is refused. */
  readonly confirm?: (question: string) => Promise<boolean>;
  /** Each step and each line of the scripts' progress. */
  readonly onProgress?: (line: string) => void;
}

export type RestoreResult =
  | {
      readonly kind: 'backup';
      /** The backup restored, and to which point. */
      readonly label: string;
      readonly target: string;
      readonly seconds: number;
      /** Where the data directory as it was is kept (on the data volume); null when discarded or there was none. */
      readonly keptAs: string | null;
      readonly container: string;
    }
  | {
      readonly kind: 'dump';
      /** What was restored, as the user named it. */
      readonly source: string;
      readonly database: string;
      readonly seconds: number;
      /** The name the replaced database is kept under; null when there was none. */
      readonly keptAs: string | null;
      readonly container: string;
    };

export async function restore(context: Context, options: RestoreOptions): Promise<RestoreResult> {
  const physical = Boolean(options.latest || options.time || options.backup);
  if (physical === Boolean(options.dump)) {
    throw new RefusedError('give what to restore: --latest, --time TIME or --backup LABEL (pgBackRest), or --dump NAME|FILE (a logical dump)');
  }
  if (options.latest && options.time) throw new RefusedError('--latest and --time are two different points: give one');
  return physical ? restoreBackup(context, options) : restoreDump(context, options);
}

async function ask(options: RestoreOptions, question: string): Promise<void> {
  if (!options.yes && !(await options.confirm?.(question))) throw new NotConfirmedError('restored');
}

// ---------------------------------------------------------------------------------------------
// From pgBackRest

async function restoreBackup(context: Context, options: RestoreOptions): Promise<RestoreResult> {
  const { config, runner } = context;
  const service = unitNames(config).service;
  const progress = options.onProgress ?? (() => {});
  if (options.repo !== undefined && options.repo !== 1 && !(options.repo === 2 && config.backup.s3)) {
    throw new RefusedError(`--repo ${options.repo} is not a repository of ${config.name}: 1 is the backup volume${config.backup.s3 ? ', 2 the off-host one' : ', and there is no off-host one (backup.s3)'}`);
  }
  const repository = inRepository(await listBackups(context), options.repo);
  const chosen = chooseBackup(repository, options);
  const target = options.time ? `the state at ${options.time}` : options.latest ? 'the last archived change' : `the end of ${chosen}`;
  const from = options.repo === undefined ? '' : ` in repo${options.repo}`;
  await ask(
    options,
    `Restore ${config.name} from ${chosen ?? 'the newest backup'}${from} to ${target}? The service is stopped for the restore, and its data directory as it is now is ${options.discardCurrent ? 'removed once the restore works' : 'kept aside on the data volume'}.`,
  );

  const started = Date.now();
  const step = (argv: readonly [string, ...string[]], note?: string) => performAction({ kind: 'run', argv, ...(note ? { note } : {}) }, runner, { onProgress: progress });
  await step(systemctl(config.rootless, 'stop', service));
  const keptAs = await setAside(context, progress);
  let output: string;
  try {
    output = await runChecked(runner, ...splitArgv(oneShot(config, [SCRIPT.pgbackrest, 'restore', ...restoreArgs(options)])), { onStderrLine: progress });
    await step(systemctl(config.rootless, 'start', service), 'replays the archived WAL; waits until PostgreSQL is healthy');
    await new Podman(runner).exec(config.name, [SCRIPT.pgbackrest, 'wait-promoted', '600'], { onStderrLine: progress });
  } catch (error) {
    const back = await putBack(context, keptAs, progress);
    throw new PgQuadletError('PG_QUADLET_COMMAND', `the restore failed (${reason(error)}); ${back}`, { cause: error });
  }
  if (options.discardCurrent && keptAs) {
    await new Podman(runner).exec(config.name, ['rm', '-rf', '--', keptAs]);
  }
  const restored = /^pgbackrest\.sh: restored (\S+)(?: from repo\d+)? into \S+, (.*?)(?:, archive mode off)?, in [\d.]+ s;/m.exec(output);
  return {
    kind: 'backup',
    label: restored?.[1] ?? chosen ?? '?',
    target: restored?.[2] ?? target,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    keptAs: options.discardCurrent ? null : keptAs,
    container: config.name,
  };
}

/** The repository's backups, read in the running container, or in a one-shot one when the
 * service is down (a restore is often why). */
async function listBackups(context: Context): Promise<BackupsResult> {
  const { config, runner } = context;
  if (await new Podman(runner).isRunning(config.name)) return backups(context);
  return parseInfo(await runChecked(runner, ...splitArgv(oneShot(config, [SCRIPT.pgbackrest, 'info']))), null);
}

/** The backups of one repository (all when none is named); the window starts at its oldest. */
function inRepository(all: BackupsResult, repo: number | undefined): BackupsResult {
  if (repo === undefined) return all;
  const sets = all.backups.filter((set) => set.repository === repo);
  return { backups: sets, recoveryWindow: { from: sets.at(-1)?.stoppedAt ?? null, to: sets.length === 0 ? null : all.recoveryWindow.to } };
}

function chooseBackup(repository: BackupsResult, options: RestoreOptions): string | undefined {
  if (repository.backups.length === 0) {
    throw new RefusedError('there is no backup in the repository to restore: run pg-quadlet backup first; nothing was changed');
  }
  if (options.backup && !repository.backups.some((set) => set.label === options.backup)) {
    throw new RefusedError(`there is no backup ${options.backup} in the repository (pg-quadlet backups lists them); nothing was changed`);
  }
  if (options.time) {
    const at = parseTime(options.time);
    const from = repository.recoveryWindow.from;
    if (Number.isNaN(at)) throw new RefusedError(`--time ${JSON.stringify(options.time)} is not a time such as '2026-11-29 10:15:00+00'`);
    if (from && at < Date.parse(from)) {
      throw new RefusedError(`${options.time} is before the oldest point a restore can reach (${from}): pick a later time; nothing was changed`);
    }
  }
  return options.backup ?? (options.time ? undefined : repository.backups[0]?.label);
}

/** `2026-11-29 10:15:00+00` (PostgreSQL's form) as milliseconds; NaN when it is none. */
function parseTime(text: string): number {
  const iso = text.trim().replace(' ', 'T').replace(/([+-]\d{2})$/, '$1:00').replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  return Date.parse(iso);
}

function restoreArgs(options: RestoreOptions): string[] {
  return [
    ...(options.latest ? ['--latest'] : []),
    ...(options.time ? ['--time', options.time] : []),
    ...(options.backup ? ['--backup', options.backup] : []),
    ...(options.repo === undefined ? [] : ['--repo', String(options.repo)]),
  ];
}

/** Moves the data directory aside; null when there is none (a wiped volume). */
async function setAside({ config, runner }: Context, progress: (line: string) => void): Promise<string | null> {
  // --stopped: systemctl stop returned, so a postmaster.pid there is a killed server's.
  const result = await runner.run(...splitArgv(oneShot(config, [SCRIPT.pgbackrest, 'set-aside', '--stopped'])));
  if (result.exitCode === 0) return result.stdout.trim().split('\n').at(-1) ?? null;
  if (/there is no \S+ to move aside/.test(result.stderr)) {
    progress('restore: there is no data directory to keep: restoring onto an empty data volume');
    return null;
  }
  throw new CommandError('pgbackrest.sh set-aside', result, `exit ${result.exitCode}: ${lastLine(result)}`);
}

/** After a failure: the data directory as it was goes back and starts; says what became of it. */
async function putBack({ config, runner }: Context, keptAs: string | null, progress: (line: string) => void): Promise<string> {
  const service = unitNames(config).service;
  try {
    await performAction({ kind: 'run', argv: systemctl(config.rootless, 'stop', service) }, runner, { onProgress: progress });
    if (keptAs) {
      // What the failed restore left is moved aside in turn, so the previous directory can return.
      await runner.run(...splitArgv(oneShot(config, [SCRIPT.pgbackrest, 'set-aside', '--stopped'])));
      await runChecked(runner, ...splitArgv(oneShot(config, [SCRIPT.pgbackrest, 'put-back', keptAs])));
      await performAction({ kind: 'run', argv: systemctl(config.rootless, 'start', service) }, runner, { onProgress: progress });
      return `the data directory as it was is back, and ${config.name} runs on it`;
    }
    return 'there was no data directory before it to put back';
  } catch (error) {
    return `putting the previous data directory back failed too (${reason(error)}): it is kept at ${keptAs} on the data volume; see docs/runbook.md`;
  }
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function splitArgv(argv: readonly [string, ...string[]]): [string, string[]] {
  const [file, ...args] = argv;
  return [file, args];
}

// ---------------------------------------------------------------------------------------------
// From a logical dump

async function restoreDump(context: Context, options: RestoreOptions): Promise<RestoreResult> {
  const { config, runner } = context;
  const choice = await chooseDump(context, options.dump as string);
  const what = choice.dump
    ? `${choice.source} (taken ${formatAge(choice.dump.ageSeconds)} ago, ${formatBytes(choice.dump.sizeBytes)})`
    : `${choice.source}${choice.fromHost ? ' (a file on this host)' : ''}`;
  await ask(options, `Restore ${what} into the database ${config.database}? Connections to it are ended; the database as it is now is kept under another name.`);
  const podman = new Podman(runner);
  if (!choice.fromHost) return runDumpRestore(context, choice.source, choice.source, options.onProgress);
  // A hidden name on the backup volume: backup.sh neither lists nor expires it, and it is
  // removed whether the restore works or not (the host keeps the original).
  const copy = `${CONTAINER.backupDir}/.upload-${randomUUID()}${choice.source.endsWith('.sql.gz') ? '.sql.gz' : ''}`;
  options.onProgress?.(`restore: copying ${choice.source} into the container`);
  await runChecked(runner, 'podman', ['cp', '--', choice.source, `${config.name}:${copy}`]);
  try {
    return await runDumpRestore(context, copy, choice.source, options.onProgress);
  } finally {
    await podman.exec(config.name, ['rm', '-rf', '--', copy]).catch((error: Error) => {
      options.onProgress?.(`restore: warning: could not remove the copy ${copy} from the backup volume (${error.message}); remove it by hand`);
    });
  }
}

/** The dump chosen: a dump's name; a dump directory or `*.sql.gz` file on this host; a path in the container. */
async function chooseDump(context: Context, source: string): Promise<{ source: string; dump: Dump | null; fromHost: boolean }> {
  const listed = (await dumps(context)).find((item) => item.name === source) ?? null;
  const onHost = listed ? null : hostDump(source);
  return { source: onHost ?? source, dump: listed, fromHost: onHost !== null };
}

/** The absolute path of a dump on this host that restore.sh can read, or null when there is nothing at that path. */
function hostDump(source: string): string | null {
  const stat = fs.statSync(source, { throwIfNoEntry: false });
  if (!stat) return null;
  const absolute = path.resolve(source);
  if (stat.isDirectory() || (stat.isFile() && absolute.endsWith('.sql.gz'))) return absolute;
  throw new RefusedError(`${absolute} is neither a dump directory nor a *.sql.gz file: nothing was restored`);
}

/** Runs restore.sh on `inContainer`, speaking of it as `shown`: its progress goes to the caller as
 * it comes, and its refusal becomes the error, once, not also a progress line. */
async function runDumpRestore({ config, runner }: Context, inContainer: string, shown: string, onProgress?: (line: string) => void): Promise<RestoreResult> {
  const name = (line: string) => line.replaceAll(inContainer, shown);
  const progress = (line: string) => {
    if (!/^restore: error: /.test(line)) onProgress?.(name(line));
  };
  let output: string;
  try {
    output = await new Podman(runner).exec(config.name, [SCRIPT.dumpRestore, inContainer], { onStderrLine: progress });
  } catch (error) {
    if (!(error instanceof CommandError) || !error.result) throw error;
    const refusal = error.result.stderr.split('\n').filter((line) => line.startsWith('restore: error: ')).at(-1);
    throw new PgQuadletError('PG_QUADLET_COMMAND', name(refusal?.slice('restore: error: '.length) ?? error.message), { cause: error });
  }
  return { ...parseDumpRestoreLine(output), source: shown, container: config.name };
}

/** Parses restore.sh's line: `restore: restored NAME into DB in 12.3 s; ... kept as OLD (...)`. */
export function parseDumpRestoreLine(output: string): Omit<Extract<RestoreResult, { kind: 'dump' }>, 'container'> {
  const match = /^restore: restored (\S+) into (\S+) in ([\d.]+) s; (.*)$/m.exec(output);
  if (!match) throw new PgQuadletError('PG_QUADLET_COMMAND', `restore.sh did not report a restore: ${JSON.stringify(output.trim().split('\n').at(-1) ?? '')}`);
  return {
    kind: 'dump',
    source: match[1] as string,
    database: match[2] as string,
    seconds: Number(match[3]),
    keptAs: /kept as (\S+)/.exec(match[4] as string)?.[1] ?? null,
  };
}

export function formatRestore(result: RestoreResult): string {
  if (result.kind === 'backup') {
    const lines = [`Restored ${result.container} from ${result.label}, ${result.target}, in ${result.seconds.toFixed(1)} s: healthy, out of recovery, taking writes.`];
    if (result.keptAs) {
      lines.push(
        `The data directory as it was is kept at ${result.keptAs} on the data volume.`,
        `Once the restore is checked, remove it: podman exec ${result.container} rm -rf -- ${result.keptAs}`,
      );
    }
    return lines.join('\n');
  }
  const lines = [`Restored ${result.source} into ${result.database} in ${result.seconds.toFixed(1)} s.`];
  if (result.keptAs) {
    lines.push(
      `The database as it was before is kept as ${result.keptAs} (no one can connect to it).`,
      `Once the restore is checked, remove it: podman exec ${result.container} psql -U postgres -c 'DROP DATABASE ${result.keptAs}'`,
    );
  }
  return lines.join('\n');
}
