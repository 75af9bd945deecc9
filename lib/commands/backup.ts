/** `backup`: a pgBackRest backup now (full, differential or incremental), in the running
 * container, as the backup services do; reports its label, size and what retention expired. */
import { BACKUP_TYPE_NAMES, type BackupType } from '../core/config.js';
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
  /** The repository it went to: 1 the backup volume, 2 the off-host one (`backup.s3`). */
  readonly repo: number;
  /** The database's size, and what this backup stored (compressed, only what changed). */
  readonly sizeBytes: number;
  readonly storedBytes: number;
  readonly seconds: number;
  /** Backups in the repository after this one, and the labels retention expired. */
  readonly kept: number;
  readonly expired: string[];
}

/** One backup per repository, each taken from the database by itself. */
export interface BackupReport {
  readonly backups: readonly BackupResult[];
}

const LINE = /^pgbackrest\.sh: backup (\S+) \((full|diff|incr)\) in repo(\d+), .*\((\d+) bytes\), stored .*\((\d+) bytes\) in ([\d.]+) s; kept (\d+), expired (\d+)(?: \((.*)\))?$/gm;

/** Parses pgbackrest.sh's result lines, one per repository: `pgbackrest.sh: backup LABEL (TYPE) in repo1, 757 MiB (N bytes), stored 39 MiB (N bytes) in 3.61 s; kept 3, expired 1 (LABEL)`. */
export function parseBackupLines(output: string): BackupResult[] {
  const results = [...output.matchAll(LINE)].map((match) => ({
    label: match[1] as string,
    type: match[2] as BackupResult['type'],
    repo: Number(match[3]),
    sizeBytes: Number(match[4]),
    storedBytes: Number(match[5]),
    seconds: Number(match[6]),
    kept: Number(match[7]),
    expired: match[9] ? match[9].split(' ') : [],
  }));
  if (results.length === 0) {
    throw new PgQuadletError('PG_QUADLET_COMMAND', `pgbackrest.sh did not report a backup: ${JSON.stringify(output.trim().split('\n').at(-1) ?? '')}`);
  }
  return results;
}

export async function backup({ config, runner }: Context, options: BackupOptions = {}): Promise<BackupReport> {
  const podman = new Podman(runner);
  await podman.requireRunning(config.name, config.rootless);
  const type = options.type ?? config.backup.type;
  const output = await podman.exec(config.name, [SCRIPT.pgbackrest, 'backup', type], options.onProgress ? { onStderrLine: options.onProgress } : {});
  return { backups: parseBackupLines(output) };
}

export function formatBackup(report: BackupReport): string {
  return report.backups
    .map((result) => {
      const expired = result.expired.length > 0 ? `; expired ${result.expired.length}: ${result.expired.join(', ')}` : '';
      const where = result.repo === 1 ? 'the backup volume' : 'the off-host repository';
      return `Took the ${BACKUP_TYPE_NAMES[result.type]} backup ${result.label} of ${formatBytes(result.sizeBytes)} into ${where} (repo${result.repo}), stored as ${formatBytes(result.storedBytes)}, in ${result.seconds.toFixed(1)} s (${result.kept} there${expired}).`;
    })
    .join('\n');
}
