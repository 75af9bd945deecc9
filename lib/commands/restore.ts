/**
 * `restore`: puts a backup back into the configured database of the running container with
 * restore.sh, which checks the whole file first and swaps the restored database in only once it
 * is complete (docs/backup-restore.md). The backup is chosen first and confirmed, so that the very
 * backup a person confirmed is restored, even if a newer one lands in between.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CONTAINER, SCRIPT } from '../core/container-contract.js';
import { NotConfirmedError, PgQuadletError, RefusedError } from '../core/errors.js';
import { formatAge, formatBytes } from '../core/format.js';
import type { Context } from '../context.js';
import { Podman } from '../host/podman.js';
import { CommandError, runChecked } from '../host/runner.js';
import { backups, type Backup } from './backups.js';

export interface RestoreOptions {
  /** A backup's name in the backup volume; else a backup directory or `*.sql.gz` on this host; else a path in the container. */
  readonly source?: string;
  /** The newest backup. */
  readonly latest?: boolean;
  /** Restore without asking. */
  readonly yes?: boolean;
  /** Asked before anything changes; without it (and without `yes`) the restore is refused. */
  readonly confirm?: (question: string) => Promise<boolean>;
  /** Each line of restore.sh's progress, with paths as the user gave them. */
  readonly onProgress?: (line: string) => void;
}

export interface RestoreResult {
  /** What was restored, as the user named it. */
  readonly source: string;
  readonly database: string;
  readonly seconds: number;
  /** The name the replaced database is kept under; null when there was none. */
  readonly keptAs: string | null;
  readonly container: string;
}

/** The backup chosen, before anything changes. */
interface Choice {
  readonly source: string;
  /** The listed backup, when the source is one. */
  readonly backup: Backup | null;
  /** A backup directory or `*.sql.gz` on this host, copied into the backup volume for the restore. */
  readonly fromHost: boolean;
}

export async function restore(context: Context, options: RestoreOptions): Promise<RestoreResult> {
  const { config, runner } = context;
  if (Boolean(options.source) === Boolean(options.latest)) {
    throw new RefusedError('give a backup to restore, or --latest (not both): pg-quadlet backups lists them');
  }
  const choice = await choose(context, options);
  if (!options.yes) {
    const what = choice.backup
      ? `${choice.source} (taken ${formatAge(choice.backup.ageSeconds)} ago, ${formatBytes(choice.backup.sizeBytes)})`
      : `${choice.source}${choice.fromHost ? ' (a file on this host)' : ''}`;
    const question = `Restore ${what} into the database ${config.database}? Connections to it are ended; the database as it is now is kept under another name.`;
    if (!(await options.confirm?.(question))) throw new NotConfirmedError('restored');
  }
  const podman = new Podman(runner);
  if (!choice.fromHost) return run(context, choice.source, choice.source, options.onProgress);
  // A hidden name on the backup volume: backup.sh neither lists nor expires it, and it is
  // removed whether the restore works or not (the host keeps the original).
  const copy = `${CONTAINER.backupDir}/.upload-${randomUUID()}${choice.source.endsWith('.sql.gz') ? '.sql.gz' : ''}`;
  options.onProgress?.(`restore: copying ${choice.source} into the container`);
  await runChecked(runner, 'podman', ['cp', '--', choice.source, `${config.name}:${copy}`]);
  try {
    return await run(context, copy, choice.source, options.onProgress);
  } finally {
    await podman.exec(config.name, ['rm', '-rf', '--', copy]).catch((error: Error) => {
      options.onProgress?.(`restore: warning: could not remove the copy ${copy} from the backup volume (${error.message}); remove it by hand`);
    });
  }
}

async function choose(context: Context, options: RestoreOptions): Promise<Choice> {
  const list = await backups(context);
  if (options.latest) {
    const newest = list[0];
    if (!newest) throw new RefusedError(`there is no backup to restore in ${context.config.backupVolume}: run pg-quadlet backup first`);
    return { source: newest.name, backup: newest, fromHost: false };
  }
  const source = options.source as string;
  const listed = list.find((item) => item.name === source) ?? null;
  const onHost = listed ? null : hostBackup(source);
  return { source: onHost ?? source, backup: listed, fromHost: onHost !== null };
}

/** The absolute path of a backup on this host that restore.sh can read, or null when there is nothing at that path. */
function hostBackup(source: string): string | null {
  const stat = fs.statSync(source, { throwIfNoEntry: false });
  if (!stat) return null;
  const absolute = path.resolve(source);
  if (stat.isDirectory() || (stat.isFile() && absolute.endsWith('.sql.gz'))) return absolute;
  throw new RefusedError(`${absolute} is neither a backup directory nor a *.sql.gz file: nothing was restored`);
}

/** Runs restore.sh on `inContainer`, speaking of it as `shown`: its progress goes to the caller as
 * it comes, and its refusal becomes the error, once, not also a progress line. */
async function run({ config, runner }: Context, inContainer: string, shown: string, onProgress?: (line: string) => void): Promise<RestoreResult> {
  const name = (line: string) => line.replaceAll(inContainer, shown);
  const progress = (line: string) => {
    if (!/^restore: error: /.test(line)) onProgress?.(name(line));
  };
  let output: string;
  try {
    output = await new Podman(runner).exec(config.name, [SCRIPT.restore, inContainer], { onStderrLine: progress });
  } catch (error) {
    if (!(error instanceof CommandError) || !error.result) throw error;
    const refusal = error.result.stderr.split('\n').filter((line) => line.startsWith('restore: error: ')).at(-1);
    throw new PgQuadletError('PG_QUADLET_COMMAND', name(refusal?.slice('restore: error: '.length) ?? error.message), { cause: error });
  }
  return { ...parseRestoreLine(output), source: shown, container: config.name };
}

/** Parses restore.sh's line: `restore: restored NAME into DB in 12.3 s; ... kept as OLD (...)`. */
export function parseRestoreLine(output: string): Omit<RestoreResult, 'container'> {
  const match = /^restore: restored (\S+) into (\S+) in ([\d.]+) s; (.*)$/m.exec(output);
  if (!match) throw new PgQuadletError('PG_QUADLET_COMMAND', `restore.sh did not report a restore: ${JSON.stringify(output.trim().split('\n').at(-1) ?? '')}`);
  return {
    source: match[1] as string,
    database: match[2] as string,
    seconds: Number(match[3]),
    keptAs: /kept as (\S+)/.exec(match[4] as string)?.[1] ?? null,
  };
}

export function formatRestore(result: RestoreResult): string {
  const lines = [`Restored ${result.source} into ${result.database} in ${result.seconds.toFixed(1)} s.`];
  if (result.keptAs) {
    lines.push(
      `The database as it was before is kept as ${result.keptAs} (no one can connect to it).`,
      `Once the restore is checked, remove it: podman exec ${result.container} psql -U postgres -c 'DROP DATABASE ${result.keptAs}'`,
    );
  }
  return lines.join('\n');
}
