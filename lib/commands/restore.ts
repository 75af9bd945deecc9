/**
 * `restore`: puts a backup back into the configured database of the running container with
 * restore.sh, which checks the whole file first and swaps the restored database in only once it
 * is complete (docs/backup-restore.md). The plan comes first, so that a person confirms the
 * very backup that is then restored, even if a newer one lands in between.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { listBackups, RESTORE_SCRIPT, type Backup } from '../backups.js';
import type { PostgresServiceConfig } from '../config.js';
import { Podman } from '../podman.js';
import { CONTAINER } from '../render.js';
import type { Runner } from '../runner.js';

export interface RestorePlan {
  /** A backup's name in the backup volume, a path on this host (`fromHost`), or a path inside the container. */
  readonly source: string;
  /** The listed backup, when the source is one (a `*.sql.gz` file or another path is not listed). */
  readonly backup: Backup | null;
  /** The source is a backup directory or `*.sql.gz` file on this host, copied into the backup volume for the restore. */
  readonly fromHost: boolean;
  readonly database: string;
}

export interface RestoreResult {
  readonly source: string;
  readonly database: string;
  readonly seconds: number;
  /** The name the replaced database is kept under; null when there was none. */
  readonly keptAs: string | null;
}

/**
 * `source` is, in this order: a backup's name; a backup directory or `*.sql.gz` file on this
 * host; a path in the container. `latest` picks the newest backup.
 */
export async function planRestore(config: PostgresServiceConfig, runner: Runner, choice: { source: string } | { latest: true }): Promise<RestorePlan> {
  const list = await listBackups(config, runner);
  if ('latest' in choice) {
    const newest = list[0];
    if (!newest) throw new Error(`there is no backup to restore in ${config.backupVolume}: run pg-quadlet backup first`);
    return { source: newest.name, backup: newest, fromHost: false, database: config.database };
  }
  const listed = list.find((item) => item.name === choice.source) ?? null;
  const onHost = listed ? null : hostBackup(choice.source);
  return { source: onHost ?? choice.source, backup: listed, fromHost: onHost !== null, database: config.database };
}

/** The absolute path of a backup on this host that restore.sh can read, or null when there is nothing at that path. */
function hostBackup(source: string): string | null {
  const stat = fs.statSync(source, { throwIfNoEntry: false });
  if (!stat) return null;
  const absolute = path.resolve(source);
  if (stat.isDirectory() || (stat.isFile() && absolute.endsWith('.sql.gz'))) return absolute;
  throw new Error(`${absolute} is neither a backup directory nor a *.sql.gz file: nothing was restored`);
}

/** Parses restore.sh's line: `restore: restored NAME into DB in 12.3 s; ... kept as OLD (...)`. */
export function parseRestoreLine(output: string): RestoreResult {
  const match = /^restore: restored (\S+) into (\S+) in ([\d.]+) s; (.*)$/m.exec(output);
  if (!match) throw new Error(`restore.sh did not report a restore: ${JSON.stringify(output.trim().split('\n').at(-1) ?? '')}`);
  return {
    source: match[1] as string,
    database: match[2] as string,
    seconds: Number(match[3]),
    keptAs: /kept as (\S+)/.exec(match[4] as string)?.[1] ?? null,
  };
}

export async function restore(config: PostgresServiceConfig, runner: Runner, plan: RestorePlan, onProgress?: (line: string) => void): Promise<RestoreResult> {
  const podman = new Podman(runner);
  const run = async (source: string) => parseRestoreLine(await podman.exec(config.name, [RESTORE_SCRIPT, source], onProgress ? { onStderrLine: onProgress } : {}));
  if (!plan.fromHost) return run(plan.source);
  // A hidden name on the backup volume: backup.sh neither lists nor expires it, and it is
  // removed whether the restore works or not (the host keeps the original).
  const copy = `${CONTAINER.backupDir}/.upload-${randomUUID()}${plan.source.endsWith('.sql.gz') ? '.sql.gz' : ''}`;
  onProgress?.(`restore: copying ${plan.source} into the container`);
  await podman.copyInto(plan.source, config.name, copy);
  try {
    return { ...(await run(copy)), source: plan.source };
  } finally {
    await podman.exec(config.name, ['rm', '-rf', '--', copy]).catch((error: Error) => {
      onProgress?.(`restore: warning: could not remove the copy ${copy} from the backup volume (${error.message}); remove it by hand`);
    });
  }
}

export function restoreReport(result: RestoreResult, container: string): string {
  const lines = [`Restored ${result.source} into ${result.database} in ${result.seconds.toFixed(1)} s.`];
  if (result.keptAs) {
    lines.push(
      `The database as it was before is kept as ${result.keptAs} (no one can connect to it).`,
      `Once the restore is checked, remove it: podman exec ${container} psql -U postgres -c 'DROP DATABASE ${result.keptAs}'`,
    );
  }
  return lines.join('\n');
}
