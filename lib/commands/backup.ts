/** `backup`: a pgBackRest backup now (full, differential or incremental), in the running
 * container, as the backup services do; reports its label, size and what retention expired. */
import type { BackupType } from '../core/config.js';
import { SCRIPT } from '../core/container-contract.js';
import { PgQuadletError } from '../core/errors.js';
import { formatBytes } from '../core/format.js';
import type { Context } from '../context.js';
import { Podman } from '../host/podman.js';

export interface BackupOptions {
  /** `full`, or the config's `backup.type` when not given. */
  readonly type?: BackupType | 'full';
  readonly onProgress?: (line: string) => void;
}

export interface BackupResult {
  readonly label: string;
  readonly type: BackupType | 'full';
  /** The database's size, and what this backup stored (compressed, only what changed). */
  readonly sizeBytes: number;
  readonly storedBytes: number;
  readonly seconds: number;
  /** Backups in the repository after this one, and the labels retention expired. */
  readonly kept: number;
  readonly expired: string[];
}

/** Parses pgbackrest.sh's line: `pgbackrest.sh: backup LABEL (TYPE), 757 MiB (N bytes), stored 39 MiB (N bytes) in 3.61 s; kept 3, expired 1 (LABEL)`. */
export function parseBackupLine(output: string): BackupResult {
  const match = /^pgbackrest\.sh: backup (\S+) \((full|diff|incr)\), .*\((\d+) bytes\), stored .*\((\d+) bytes\) in ([\d.]+) s; kept (\d+), expired (\d+)(?: \((.*)\))?$/m.exec(output);
  if (!match) throw new PgQuadletError('PG_QUADLET_COMMAND', `pgbackrest.sh did not report a backup: ${JSON.stringify(output.trim().split('\n').at(-1) ?? '')}`);
  return {
    label: match[1] as string,
    type: match[2] as BackupResult['type'],
    sizeBytes: Number(match[3]),
    storedBytes: Number(match[4]),
    seconds: Number(match[5]),
    kept: Number(match[6]),
    expired: match[8] ? match[8].split(' ') : [],
  };
}

export async function backup({ config, runner }: Context, options: BackupOptions = {}): Promise<BackupResult> {
  const podman = new Podman(runner);
  await podman.requireRunning(config.name, config.rootless);
  const type = options.type ?? config.backup.type;
  return parseBackupLine(await podman.exec(config.name, [SCRIPT.pgbackrest, 'backup', type], options.onProgress ? { onStderrLine: options.onProgress } : {}));
}

const TYPES = { full: 'full', diff: 'differential', incr: 'incremental' } as const;

export function formatBackup(result: BackupResult): string {
  const expired = result.expired.length > 0 ? `; expired ${result.expired.length}: ${result.expired.join(', ')}` : '';
  return `Took the ${TYPES[result.type]} backup ${result.label} of ${formatBytes(result.sizeBytes)}, stored as ${formatBytes(result.storedBytes)}, in ${result.seconds.toFixed(1)} s (${result.kept} in the repository${expired}).`;
}
