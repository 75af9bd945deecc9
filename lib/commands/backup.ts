/**
 * `backup`: takes a backup now, in the running container, as the backup service does, and
 * reports what backup.sh wrote. `backups`: the backups there are, newest first.
 */
import { formatAge, formatBytes, type Backup } from '../backups.js';
import type { PostgresServiceConfig } from '../config.js';
import { Podman } from '../podman.js';
import { CONTAINER } from '../render.js';
import type { Runner } from '../runner.js';

export interface BackupResult {
  readonly name: string;
  readonly sizeBytes: number;
  readonly seconds: number;
  /** Backups kept by retention after this one, itself included. */
  readonly kept: number;
  /** Backups retention removed after this one succeeded. */
  readonly removed: string[];
}

/** Parses backup.sh's line: `backup: wrote NAME, 13.6 MiB (14304847 bytes) in 5.31 s; kept 3, removed 1 (NAME)`. */
export function parseBackupLine(output: string): BackupResult {
  const match = /^backup: wrote (\S+), .*\((\d+) bytes\) in ([\d.]+) s; kept (\d+), removed (\d+)(?: \((.*)\))?$/m.exec(output);
  if (!match) throw new Error(`backup.sh did not report a backup: ${JSON.stringify(output.trim().split('\n').at(-1) ?? '')}`);
  return {
    name: match[1] as string,
    sizeBytes: Number(match[2]),
    seconds: Number(match[3]),
    kept: Number(match[4]),
    removed: match[6] ? match[6].split(' ') : [],
  };
}

export async function backup(config: PostgresServiceConfig, runner: Runner): Promise<BackupResult> {
  return parseBackupLine(await new Podman(runner).exec(config.name, [CONTAINER.backupScript]));
}

export function backupReport(result: BackupResult): string {
  const removed = result.removed.length > 0 ? `; removed ${result.removed.length} expired: ${result.removed.join(', ')}` : '';
  return `Backed up to ${result.name}: ${formatBytes(result.sizeBytes)} in ${result.seconds.toFixed(1)} s (${result.kept} kept${removed}).`;
}

export function backupsReport(list: readonly Backup[]): string {
  if (list.length === 0) return 'No backups yet: run pg-quadlet backup, or wait for the backup timer.';
  const rows = list.map((item) => [item.name, item.takenAt.replace('.000Z', 'Z'), `${formatAge(item.ageSeconds)} ago`, formatBytes(item.sizeBytes)]);
  const header = ['NAME', 'TAKEN (UTC)', 'AGE', 'SIZE'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] as string).length)));
  return [header, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column] as number)).join('  ').trimEnd()).join('\n');
}
