// Runs pgbackrest.sh in a Sandbox (the image's scripts on this host, as the OS user postgres,
// against Debian's PostgreSQL 15 and pgBackRest 2.45), and reads what the tests compare: the
// result line, pgBackRest's info, the server's archiver statistics and the repository's files.
import fs from 'node:fs';
import path from 'node:path';
import { parseBackupLines, type BackupResult } from '../../lib/commands/backup.js';
import { sandboxMissing, type Sandbox, type Server } from '../image/sandbox.js';
import { processTree, waitFor } from './support.js';

export const PGBACKREST = '/usr/bin/pgbackrest';

/** Why these tests cannot run here, or null when they can. */
export function pgbackrestMissing(): string | null {
  return sandboxMissing() ?? (fs.existsSync(PGBACKREST) ? null : `pgBackRest is not installed (${PGBACKREST}; test/setup.sh installs the Debian package pgbackrest)`);
}

export function runPgbackrest(box: Sandbox, args: string[], env: Record<string, string | undefined> = {}) {
  return box.runAsPostgres(path.join(box.paths.scripts, 'pgbackrest.sh'), args, { env });
}

/** Runs pgbackrest.sh, which must succeed; returns its standard output. */
export async function pgbackrestOk(box: Sandbox, args: string[], env: Record<string, string | undefined> = {}): Promise<string> {
  const result = await runPgbackrest(box, args, env);
  if (result.exitCode !== 0) throw new Error(`pgbackrest.sh ${args.join(' ')} failed (${result.exitCode}):\n${result.all}`);
  return String(result.stdout);
}

/** Takes a backup into every repository and reads the result lines as `pg-quadlet backup` does. */
export async function backupsNow(box: Sandbox, type: 'full' | 'diff' | 'incr', env: Record<string, string | undefined> = {}): Promise<BackupResult[]> {
  const stdout = await pgbackrestOk(box, ['backup', type], env);
  const results = parseBackupLines(stdout);
  if (results.length !== stdout.split('\n').filter(Boolean).length) throw new Error(`backup printed more than its result lines on stdout:\n${stdout}`);
  return results;
}

/** Takes a backup into the one repository (the backup volume's). */
export async function backupNow(box: Sandbox, type: 'full' | 'diff' | 'incr', env: Record<string, string | undefined> = {}): Promise<BackupResult> {
  const [only, ...more] = await backupsNow(box, type, env);
  if (!only || more.length > 0) throw new Error('expected one repository\'s backup');
  return only;
}

export interface InfoBackup {
  label: string;
  type: string;
  prior: string | null;
  timestamp: { start: number; stop: number };
  info: { size: number; repository: { delta: number; size: number } };
}

/** `pgbackrest.sh info`: the stanza's backups, oldest first. */
export async function infoBackups(box: Sandbox): Promise<InfoBackup[]> {
  const [stanza] = JSON.parse(await pgbackrestOk(box, ['info'])) as Array<{ name: string; backup: InfoBackup[] }>;
  if (!stanza) throw new Error('pgbackrest.sh info listed no stanza');
  return stanza.backup;
}

export interface Archiver {
  archived: number;
  failed: number;
  lastArchived: string;
  lastFailed: string;
}

export async function archiver(box: Sandbox): Promise<Archiver> {
  const row = await box.superuser(
    "SELECT concat_ws('|', archived_count, failed_count, coalesce(last_archived_wal, ''), coalesce(last_failed_wal, '')) FROM pg_stat_archiver",
    'postgres',
  );
  const [archived, failed, lastArchived, lastFailed] = row.split('|');
  return { archived: Number(archived), failed: Number(failed), lastArchived: lastArchived ?? '', lastFailed: lastFailed ?? '' };
}

/** Ends the current WAL segment (after a write, so there is one to end); returns its name. */
export async function switchWal(box: Sandbox): Promise<string> {
  return box.superuser("SELECT pg_walfile_name(pg_switch_wal()) FROM (SELECT txid_current()) AS write", 'postgres');
}

/** Waits until the server reports the segment (or a later one) archived. */
export async function waitArchived(box: Sandbox, segment: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(`WAL segment ${segment} to be archived`, async () => (await archiver(box)).lastArchived >= segment, timeoutMs);
}

/** The files under the repository's archive, by name (what a test restore must not add to). */
export function archivedFiles(box: Sandbox, stanza = 'main'): string[] {
  const dir = path.join(box.paths.pgbackrestRepo, 'archive', stanza);
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

/** The segment names in the archive (timeline, log, segment), each once. */
export function archivedSegments(box: Sandbox, stanza = 'main'): string[] {
  return [...new Set(archivedFiles(box, stanza).map((f) => /([0-9A-F]{24})-[0-9a-f]{40}/.exec(f)?.[1]).filter((s): s is string => !!s))].sort();
}

/** Starts a restored cluster: it takes read-only logins while it replays WAL; then waits with
 * pgbackrest.sh wait-promoted until it is promoted, as a caller of a restore must. */
export async function startRestored(box: Sandbox, env: Record<string, string | undefined> = {}): Promise<Server> {
  const server = await box.startReady({ env });
  const waited = await runPgbackrest(box, ['wait-promoted', '60'], env);
  if (waited.exitCode !== 0) throw new Error(`wait-promoted failed (${waited.exitCode}):\n${waited.all}\n${server.output()}`);
  return server;
}

/** The server time now, to the second, as pgbackrest.sh restore --time takes it. */
export async function serverTime(box: Sandbox): Promise<string> {
  return box.superuser("SELECT to_char(date_trunc('second', clock_timestamp()) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00'", 'postgres');
}

/** Kills the server as a crash or a lost machine would (no shutdown checkpoint, nothing archived
 * at exit), and waits for it to be gone. */
export async function crash(server: Server): Promise<void> {
  const pids = processTree(server.process.pid as number);
  server.process.kill('SIGKILL');
  await server.exited;
  // The postmaster's children notice that it is gone, and end, within a moment.
  await waitFor('the killed server\'s processes to end', () => pids.every((pid) => !fs.existsSync(`/proc/${pid}`)), 10_000);
}

/** Moves PGDATA aside with pgbackrest.sh set-aside; returns the path it printed. */
export async function setAside(box: Sandbox): Promise<string> {
  return (await pgbackrestOk(box, ['set-aside'])).trim();
}
