/**
 * `backups`: the pgBackRest backups in the repository, newest first, from `pgbackrest info
 * --output=json` in the running container, and the recovery window: the oldest and the newest
 * time a restore can reach (from the oldest backup's end to the last archived WAL).
 */
import { BACKUP_TYPE_NAMES } from '../core/config.js';
import { SCRIPT } from '../core/container-contract.js';
import { PgQuadletError } from '../core/errors.js';
import { formatAge, formatBytes, formatTable } from '../core/format.js';
import type { Context } from '../context.js';
import { Podman } from '../host/podman.js';

export interface BackupSet {
  readonly label: string;
  readonly type: 'full' | 'diff' | 'incr';
  readonly startedAt: string;
  readonly stoppedAt: string;
  /** The database's size at the backup, and what the repository stored for it. */
  readonly sizeBytes: number;
  readonly storedBytes: number;
  readonly repository: number;
  readonly ageSeconds: number;
}

export interface BackupsResult {
  /** Newest first. */
  readonly backups: BackupSet[];
  readonly recoveryWindow: { readonly from: string | null; readonly to: string | null };
}

interface InfoBackup {
  label: string;
  type: BackupSet['type'];
  timestamp: { start: number; stop: number };
  info: { size: number; repository: { delta: number } };
  database?: { 'repo-key'?: number };
}

/** Reads `pgbackrest info --output=json` for one stanza. */
export function parseInfo(json: string, lastArchivedAt: string | null, now: number = Date.now()): BackupsResult {
  let stanzas: Array<{ backup?: InfoBackup[] }>;
  try {
    stanzas = JSON.parse(json) as typeof stanzas;
  } catch (error) {
    throw new PgQuadletError('PG_QUADLET_COMMAND', `pgbackrest info did not print JSON: ${(error as Error).message}`, { cause: error });
  }
  const iso = (seconds: number) => new Date(seconds * 1000).toISOString();
  const sets = (stanzas[0]?.backup ?? [])
    .map(
      (item): BackupSet => ({
        label: item.label,
        type: item.type,
        startedAt: iso(item.timestamp.start),
        stoppedAt: iso(item.timestamp.stop),
        sizeBytes: item.info.size,
        storedBytes: item.info.repository.delta,
        repository: item.database?.['repo-key'] ?? 1,
        ageSeconds: Math.max(0, Math.round(now / 1000 - item.timestamp.stop)),
      }),
    )
    .sort((a, b) => b.stoppedAt.localeCompare(a.stoppedAt));
  const oldest = sets.at(-1)?.stoppedAt ?? null;
  const newest = [sets[0]?.stoppedAt, lastArchivedAt].filter((time): time is string => Boolean(time)).sort().at(-1) ?? null;
  return { backups: sets, recoveryWindow: { from: oldest, to: oldest === null ? null : newest } };
}

export interface BackupsOptions {
  readonly now?: number;
  /** The archiver's last success, when the caller has read it already (status has): the newest
   * point a restore reaches. Asked of the server when not given. */
  readonly lastArchivedAt?: string | null;
}

export async function backups({ config, runner }: Context, options: BackupsOptions = {}): Promise<BackupsResult> {
  const podman = new Podman(runner);
  await podman.requireRunning(config.name, config.rootless);
  const info = await podman.exec(config.name, [SCRIPT.pgbackrest, 'info']);
  // The newest point a restore reaches is the last WAL the archive took.
  const archived = options.lastArchivedAt !== undefined ? options.lastArchivedAt : await podman
    .exec(config.name, ['psql', '--no-psqlrc', '--tuples-only', '--no-align', '--host=/run/postgresql', '--username=postgres', '--dbname=postgres',
      "--command=SELECT coalesce(to_char(last_archived_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), '') FROM pg_stat_archiver"])
    .then((text) => text.trim() || null, () => null);
  return parseInfo(info, archived, options.now);
}

export function formatBackups(result: BackupsResult): string {
  if (result.backups.length === 0) return 'No backups yet: run pg-quadlet backup, or wait for the backup timers.';
  const rows = result.backups.map((set) => [set.label, BACKUP_TYPE_NAMES[set.type], set.stoppedAt.replace(/\.000Z$/, 'Z'), `${formatAge(set.ageSeconds)} ago`, formatBytes(set.storedBytes), String(set.repository)]);
  const { from, to } = result.recoveryWindow;
  return `${formatTable(['LABEL', 'TYPE', 'FINISHED (UTC)', 'AGE', 'STORED', 'REPO'], rows)}\n\nA restore can reach any time from ${from} to ${to ?? from}.`;
}
