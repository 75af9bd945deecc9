/**
 * The backups in the container's backup volume, as `backup.sh list` reports them: only complete
 * backups (a failed or running one has no backup's name yet), newest first. Read through the
 * container, so the host never needs the volume's path.
 */
import type { PostgresServiceConfig } from './config.js';
import { Podman } from './podman.js';
import { CONTAINER } from './render.js';
import type { Runner } from './runner.js';

/** restore.sh, next to backup.sh in the image (docs/container-contract.md). */
export const RESTORE_SCRIPT = '/usr/local/bin/restore.sh';

export interface Backup {
  /** The directory's name in the backup volume, e.g. `poststack_20260101T020000Z`. */
  readonly name: string;
  /** When the backup started, from its name (UTC, ISO 8601). */
  readonly takenAt: string;
  readonly ageSeconds: number;
  readonly sizeBytes: number;
}

/** Parses `backup.sh list`: one `epoch<TAB>bytes<TAB>name` line per backup. */
export function parseBackupList(text: string, now: number = Date.now()): Backup[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const match = /^(\d+)\t(\d+)\t(\S+)$/.exec(line);
      if (!match) throw new Error(`unexpected line from backup.sh list: ${JSON.stringify(line)}`);
      const epoch = Number(match[1]);
      return {
        name: match[3] as string,
        takenAt: new Date(epoch * 1000).toISOString(),
        ageSeconds: Math.max(0, Math.round(now / 1000 - epoch)),
        sizeBytes: Number(match[2]),
      };
    });
}

export async function listBackups(config: PostgresServiceConfig, runner: Runner, now: number = Date.now()): Promise<Backup[]> {
  return parseBackupList(await new Podman(runner).exec(config.name, [CONTAINER.backupScript, 'list']), now);
}

/** "13.6 MiB" */
export function formatBytes(count: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** "3 h 12 min" */
export function formatAge(seconds: number): string {
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  if (days > 0) return `${days} d ${hours} h`;
  if (hours > 0) return `${hours} h ${minutes} min`;
  if (minutes > 0) return `${minutes} min`;
  return `${seconds} s`;
}
