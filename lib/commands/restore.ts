/**
 * `restore`: puts a backup back into the configured database of the running container with
 * restore.sh, which checks the whole file first and swaps the restored database in only once it
 * is complete (docs/backup-restore.md). The plan comes first, so that a person confirms the
 * very backup that is then restored, even if a newer one lands in between.
 */
import { listBackups, RESTORE_SCRIPT, type Backup } from '../backups.js';
import type { PostgresServiceConfig } from '../config.js';
import { Podman } from '../podman.js';
import type { Runner } from '../runner.js';

export interface RestorePlan {
  /** What restore.sh is given: a backup's name in the backup volume, or a path inside the container. */
  readonly source: string;
  /** The listed backup, when the source is one (a `*.sql.gz` file or another path is not listed). */
  readonly backup: Backup | null;
  readonly database: string;
}

export interface RestoreResult {
  readonly source: string;
  readonly database: string;
  readonly seconds: number;
  /** The name the replaced database is kept under; null when there was none. */
  readonly keptAs: string | null;
}

/** `source` is a backup's name or a path in the container; `latest` picks the newest backup. */
export async function planRestore(config: PostgresServiceConfig, runner: Runner, choice: { source: string } | { latest: true }): Promise<RestorePlan> {
  const list = await listBackups(config, runner);
  if ('latest' in choice) {
    const newest = list[0];
    if (!newest) throw new Error(`there is no backup to restore in ${config.backupVolume}: run pg-quadlet backup first`);
    return { source: newest.name, backup: newest, database: config.database };
  }
  return { source: choice.source, backup: list.find((item) => item.name === choice.source) ?? null, database: config.database };
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
  const output = await new Podman(runner).exec(config.name, [RESTORE_SCRIPT, plan.source], onProgress ? { onStderrLine: onProgress } : {});
  return parseRestoreLine(output);
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
