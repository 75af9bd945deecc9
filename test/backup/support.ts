// Runs backup.sh and restore.sh in a Sandbox (the image's scripts on this host, as the OS user
// postgres, against Debian's PostgreSQL 15), and reads what a user would compare after a restore.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PG_BIN, postgresGid, postgresUid, type Sandbox } from '../image/sandbox.js';

export const backupDir = (box: Sandbox): string => path.join(box.dir, 'backups');

/** The backup volume: a directory only postgres writes to, as the container's is. */
export function makeBackupDir(box: Sandbox, dir = backupDir(box)): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.chownSync(dir, postgresUid(), postgresGid());
  return dir;
}

export function backupEnv(box: Sandbox, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { POSTGRES_BACKUP_DIR: backupDir(box), BACKUP_JOBS: '2', ...extra };
}

export function runBackup(box: Sandbox, args: string[] = [], env: Record<string, string | undefined> = {}) {
  return box.runAsPostgres(path.join(box.paths.scripts, 'backup.sh'), args, { env: backupEnv(box, env) });
}

export function runRestore(box: Sandbox, args: string[] = [], env: Record<string, string | undefined> = {}) {
  return box.runAsPostgres(path.join(box.paths.scripts, 'restore.sh'), args, { env: backupEnv(box, env) });
}

/** Takes a backup that must succeed, and returns its name. */
export async function backupNow(box: Sandbox, env: Record<string, string | undefined> = {}): Promise<string> {
  const result = await runBackup(box, [], env);
  if (result.exitCode !== 0) throw new Error(`backup.sh failed (${result.exitCode}):\n${result.all}`);
  const name = /^backup: wrote (\S+),/m.exec(String(result.stdout))?.[1];
  if (!name) throw new Error(`backup.sh printed no result line:\n${result.all}`);
  return name;
}

export async function restoreNow(box: Sandbox, args: string[] = [], env: Record<string, string | undefined> = {}): Promise<string> {
  const result = await runRestore(box, args, env);
  if (result.exitCode !== 0) throw new Error(`restore.sh failed (${result.exitCode}):\n${result.all}`);
  return String(result.all);
}

export interface BackupRow {
  epoch: number;
  bytes: number;
  name: string;
}

export async function listBackups(box: Sandbox): Promise<BackupRow[]> {
  const result = await runBackup(box, ['list']);
  if (result.exitCode !== 0) throw new Error(`backup.sh list failed:\n${result.all}`);
  return String(result.stdout)
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [epoch, bytes, name] = line.split('\t');
      return { epoch: Number(epoch), bytes: Number(bytes), name: name ?? '' };
    });
}

/** Every table of the database's own schemas: its row count and the md5 of its rows in order. */
export async function fingerprint(box: Sandbox, database = 'poststack'): Promise<Record<string, string>> {
  const tables = await box.superuser(
    `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
      ORDER BY 1`,
    database,
  );
  const prints: Record<string, string> = {};
  for (const table of tables.split('\n').filter(Boolean)) {
    prints[table] = await box.superuser(
      `SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE "C")), '-') FROM ${table} t`,
      database,
    );
  }
  return prints;
}

/** The roles a restore must bring back: attributes, password verifier, memberships, settings. */
export async function roles(box: Sandbox): Promise<string> {
  return box.superuser(
    `SELECT string_agg(format('%s super=%s login=%s createdb=%s password=%s config=%s member_of=%s', a.rolname, a.rolsuper, a.rolcanlogin,
              a.rolcreatedb, coalesce(a.rolpassword, '-'), coalesce((SELECT s.setconfig::text FROM pg_db_role_setting s WHERE s.setrole = a.oid AND s.setdatabase = 0), '-'),
              (SELECT coalesce(string_agg(g.rolname, ',' ORDER BY g.rolname), '-') FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = a.oid)),
            E'\\n' ORDER BY a.rolname)
       FROM pg_authid a WHERE a.rolname NOT LIKE 'pg\\_%'`,
    'postgres',
  );
}

export async function databases(box: Sandbox): Promise<string[]> {
  return (await box.superuser('SELECT datname FROM pg_database ORDER BY 1', 'postgres')).split('\n');
}

/** path -> sha256 of every file under dir (the lock file aside): how "left intact" is checked. */
export function tree(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (at: string) => {
    for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name !== '.lock') files[path.relative(dir, full)] = createHash('sha256').update(fs.readFileSync(full)).digest('hex');
    }
  };
  walk(dir);
  return files;
}

/** The names in the backup directory that look like backups (what a person would take for one). */
export function backupLike(dir: string): string[] {
  return fs.readdirSync(dir).filter((name) => !name.startsWith('.')).sort();
}

/** A backup's name as if it had been taken `daysAgo` days before now. */
export function nameDaysAgo(daysAgo: number, now = Date.now(), database = 'poststack'): string {
  const stamp = new Date(now - daysAgo * 86_400_000).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${database}_${stamp}`;
}

/** Copies a real backup under another name, owned by postgres, as an older run would have left it. */
export function copyBackup(dir: string, from: string, to: string): void {
  fs.cpSync(path.join(dir, from), path.join(dir, to), { recursive: true, preserveTimestamps: true });
  for (const p of [path.join(dir, to), ...fs.readdirSync(path.join(dir, to), { recursive: true }).map((rel) => path.join(dir, to, String(rel)))]) {
    fs.lchownSync(p, postgresUid(), postgresGid());
  }
}

/** pgbench as the superuser over the socket, e.g. `-i -s 2` or `-c 4 -T 30`. */
export function pgbench(box: Sandbox, args: string[]) {
  return box.runAsPostgres(path.join(PG_BIN, 'pgbench'), ['--host', box.paths.socket, '--port', String(box.port), '--username', 'postgres', ...args, 'poststack']);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}


/** The process and every process under it, from /proc (other work on the host may run pg_dump too). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i] as number) ?? []));
  return tree;
}

export function commandOf(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

export function environmentOf(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}
