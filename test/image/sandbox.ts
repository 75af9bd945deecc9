// Runs the image's scripts on this host against Debian's PostgreSQL 15, as the OS user postgres
// (the server refuses root, and `peer` maps that user to the superuser, as in the container), with
// every path the scripts use in a temp directory and the server on a free port.
import { execa } from 'execa';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export const PG_BIN = '/usr/lib/postgresql/15/bin';
const IMAGE_DIR = path.resolve(import.meta.dirname, '../../image');
const READY_TIMEOUT_MS = 60_000;

/** A password with every character that breaks naive quoting in shell, SQL or a config file. */
export const TORTURE_PASSWORD = ` p'a"s$s\`id\`\\ w;o rd -- ü€ 🔑 %s $(x) '' `;

/** Why these tests cannot run here, or null when they can. */
export function sandboxMissing(): string | null {
  if (process.getuid?.() !== 0) return 'needs root, to run the scripts as the OS user postgres';
  if (!fs.existsSync(path.join(PG_BIN, 'postgres'))) return `PostgreSQL 15 is not installed (${PG_BIN})`;
  // pgbackrest: every server the entrypoint starts archives WAL through it.
  for (const tool of ['/usr/bin/setpriv', '/usr/bin/openssl', '/usr/bin/pgbackrest']) {
    if (!fs.existsSync(tool)) return `${tool} is missing`;
  }
  try {
    uid('postgres');
  } catch {
    return 'there is no OS user postgres';
  }
  return null;
}

function passwdField(user: string, field: number): number {
  const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`no user ${user}`);
  return Number(line.split(':')[field]);
}

const uid = (user: string): number => passwdField(user, 2);
export const postgresUid = (): number => uid('postgres');
export const postgresGid = (): number => passwdField('postgres', 3);

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Makes a CA in `work` and, in `dir`, `fullchain.pem` and `privkey.pem` for localhost and
 * 127.0.0.1, signed by it, as a certificate directory holds them. Returns the CA certificate. */
export async function makeCertificates(work: string, dir: string): Promise<string> {
  fs.mkdirSync(work, { recursive: true });
  fs.mkdirSync(dir, { recursive: true });
  const openssl = (...args: string[]) => execa('openssl', args, { cwd: work });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=test CA');
  await openssl('req', ...ec, '-keyout', path.join(dir, 'privkey.pem'), '-out', 'server.csr', '-subj', '/CN=localhost');
  fs.writeFileSync(path.join(work, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', path.join(dir, 'fullchain.pem'), '-days', '2', '-extfile', 'san.ext');
  fs.chmodSync(path.join(dir, 'fullchain.pem'), 0o644);
  return fs.readFileSync(path.join(work, 'ca.pem'), 'utf8');
}

/** The entrypoint started as the server: its output, and ways to wait for it. */
export interface Server {
  process: ChildProcess;
  output(): string;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number>;
}

export interface StartOptions {
  args?: string[];
  env?: Record<string, string | undefined>;
  /** How to log in to tell that the server is ready (TLS options, for instance). */
  connect?: pg.ClientConfig;
}

/** Not up yet: nothing listens on TCP (first start, or still starting), or the server says so. */
const NOT_YET = new Set(['ECONNREFUSED', '57P03']);

export class Sandbox {
  readonly paths;
  private servers: Server[] = [];

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly password: string,
  ) {
    this.paths = {
      pgdata: path.join(dir, 'pgdata'),
      socket: path.join(dir, 'run'),
      ssl: path.join(dir, 'run/ssl'),
      init: path.join(dir, 'init.d'),
      certificates: path.join(dir, 'certificates'),
      passwordFile: path.join(dir, 'secrets/postgres-password'),
      scripts: path.join(dir, 'image/scripts'),
      templates: path.join(dir, 'image/config'),
      /** pgBackRest's repository: in the container, a directory in the backup volume. Here it is
       * apart from backups/, which the logical backups' tests compare file by file. */
      pgbackrestRepo: path.join(dir, 'pgbackrest-repo'),
      /** Where archive-push queues WAL (the default: beside PGDATA, on the data volume). */
      pgbackrestSpool: path.join(dir, 'pgbackrest-spool'),
    };
  }

  /** A temp directory owned by postgres, with a copy of image/ (the checkout may be unreadable
   * to postgres) and the password in a 0400 file, as a Podman secret arrives. */
  static async create(password = TORTURE_PASSWORD): Promise<Sandbox> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-image-'));
    const box = new Sandbox(dir, await freePort(), password);
    fs.cpSync(IMAGE_DIR, path.join(dir, 'image'), { recursive: true });
    fs.mkdirSync(path.dirname(box.paths.passwordFile));
    fs.writeFileSync(box.paths.passwordFile, password, { mode: 0o400 });
    for (const p of walk(dir)) fs.lchownSync(p, postgresUid(), postgresGid());
    fs.chmodSync(dir, 0o755);
    return box;
  }

  /** The environment the scripts get: the container's variables, pointed into the sandbox. */
  env(extra: Record<string, string | undefined> = {}): Record<string, string> {
    const env: Record<string, string | undefined> = {
      PATH: `${PG_BIN}:/usr/sbin:/usr/bin:/sbin:/bin`,
      HOME: this.dir,
      PGDATA: this.paths.pgdata,
      POSTGRES_PORT: String(this.port),
      POSTGRES_SOCKET_DIR: this.paths.socket,
      POSTGRES_SSL_DIR: this.paths.ssl,
      POSTGRES_INITDB_DIR: this.paths.init,
      POSTGRES_CERTIFICATES_DIR: this.paths.certificates,
      POSTGRES_TEMPLATE_DIR: this.paths.templates,
      POSTGRES_PASSWORD_FILE: this.paths.passwordFile,
      PGBACKREST_REPO1_PATH: this.paths.pgbackrestRepo,
      ...extra,
    };
    return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  }

  /** Runs a command as the OS user postgres, with the sandbox's environment. */
  runAsPostgres(command: string, args: string[] = [], options: { env?: Record<string, string | undefined>; input?: string } = {}) {
    return execa('setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', command, ...args], {
      env: this.env(options.env),
      extendEnv: false,
      cwd: this.dir,
      reject: false,
      all: true,
      ...(options.input === undefined ? {} : { input: options.input }),
    });
  }

  /** Writes an init file (as the mounted init directory would hold it). */
  addInitFile(name: string, content: string | Buffer): void {
    fs.mkdirSync(this.paths.init, { recursive: true });
    fs.writeFileSync(path.join(this.paths.init, name), content);
  }

  /** Starts the entrypoint as the container would (setpriv execs, so the entrypoint, and then
   * the server, keep the spawned PID), without waiting. */
  start(options: StartOptions = {}): Server {
    const child = execa(
      'setpriv',
      ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', path.join(this.paths.scripts, 'entrypoint.sh'), ...(options.args ?? [])],
      { env: this.env(options.env), extendEnv: false, cwd: this.dir, reject: false, buffer: false, stdin: 'ignore' },
    );
    let output = '';
    child.stdout?.on('data', (chunk) => (output += chunk));
    child.stderr?.on('data', (chunk) => (output += chunk));
    const exited = child.then((result) => result.exitCode ?? 128);
    const server: Server = { process: child, output: () => output, exited };
    this.servers.push(server);
    return server;
  }

  /** Starts and waits until the configured role can log in over TCP. */
  async startReady(options: StartOptions = {}): Promise<Server> {
    const server = this.start(options);
    await this.waitReady(server, options.connect);
    return server;
  }

  async waitReady(server: Server, config: pg.ClientConfig = {}): Promise<void> {
    let exitCode: number | undefined;
    void server.exited.then((code) => (exitCode = code));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (exitCode !== undefined) {
        throw new Error(`the entrypoint exited with ${exitCode} before the server was ready:\n${server.output()}`);
      }
      try {
        const client = await this.connect(config);
        await client.end();
        return;
      } catch (error) {
        if (!NOT_YET.has((error as { code?: string }).code ?? '')) {
          throw new Error(`logging in failed (${String(error)}):\n${server.output()}`);
        }
        await sleep(100);
      }
    }
    throw new Error(`the server was not ready within ${READY_TIMEOUT_MS} ms:\n${server.output()}`);
  }

  /** Stops a server by signal and returns its exit code. */
  async stop(server: Server, signal: NodeJS.Signals = 'SIGINT'): Promise<number> {
    server.process.kill(signal);
    return server.exited;
  }

  /** A client logged in over TCP as the configured role (or as given). */
  async connect(config: pg.ClientConfig = {}): Promise<pg.Client> {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: this.port,
      user: 'poststack',
      database: 'poststack',
      password: this.password,
      ssl: false,
      connectionTimeoutMillis: 5000,
      ...config,
    });
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  }

  async query<T extends pg.QueryResultRow = any>(sql: string, params: unknown[] = [], config: pg.ClientConfig = {}): Promise<T[]> {
    const client = await this.connect(config);
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  /** psql as the superuser over the socket (peer), as maintenance scripts in the container log in. */
  async superuser(sql: string, database = 'poststack'): Promise<string> {
    const result = await this.runAsPostgres('psql', [
      '--no-psqlrc', '--tuples-only', '--no-align', '--set=ON_ERROR_STOP=1',
      `--host=${this.paths.socket}`, `--port=${this.port}`, '--username=postgres', `--dbname=${database}`, `--command=${sql}`,
    ]);
    if (result.exitCode !== 0) throw new Error(`psql failed: ${result.all}`);
    return String(result.stdout).trim();
  }

  async healthy(env: Record<string, string | undefined> = {}): Promise<boolean> {
    const result = await this.runAsPostgres(path.join(this.paths.scripts, 'health-check.sh'), [], { env });
    return result.exitCode === 0;
  }

  /** pg_controldata's "Database cluster state". */
  async clusterState(): Promise<string> {
    const result = await execa(path.join(PG_BIN, 'pg_controldata'), [this.paths.pgdata], { env: { LC_ALL: 'C' } });
    return /^Database cluster state:\s+(.*)$/m.exec(result.stdout)?.[1] ?? '';
  }

  /** Ends every server this sandbox started, and any temporary server the scripts left behind,
   * then removes the directory: runs in `finally`, so a failing test leaves nothing running. */
  async cleanup(): Promise<void> {
    for (const server of this.servers) {
      if (server.process.exitCode === null && server.process.signalCode === null) {
        server.process.kill('SIGKILL');
        await server.exited.catch(() => undefined);
      }
    }
    const pidFile = path.join(this.paths.pgdata, 'postmaster.pid');
    if (fs.existsSync(pidFile)) {
      const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
      if (pid > 0 && isPostgres(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function isPostgres(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres');
  } catch {
    return false;
  }
}

function* walk(dir: string): Generator<string> {
  yield dir;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(p);
    else yield p;
  }
}

/** Runs a test body in a fresh sandbox, always cleaned up. */
export async function withSandbox(body: (box: Sandbox) => Promise<void>, password?: string): Promise<void> {
  const box = await Sandbox.create(password);
  try {
    await body(box);
  } finally {
    await box.cleanup();
  }
}

/** The pg error's SQLSTATE (or Node's error code) when connecting fails, or 'connected'. */
export async function connectError(box: Sandbox, config: pg.ClientConfig = {}): Promise<string> {
  try {
    const client = await box.connect(config);
    await client.end();
    return 'connected';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

/** A CA, and in certificates/DOMAIN a server certificate for localhost and 127.0.0.1 laid out as
 * the read-only mount holds it: root's directory, the key 0640 owned by neither root nor postgres
 * but readable through postgres's group, as with certgroup in the container (PostgreSQL itself
 * refuses such a key). Returns the CA certificate. */
export async function mountedCertificates(box: Sandbox, domain: string): Promise<string> {
  const dir = path.join(box.paths.certificates, domain);
  const ca = await makeCertificates(path.join(box.dir, 'ca'), dir);
  const nobody = Number((await execa('id', ['-u', 'nobody'])).stdout);
  fs.chownSync(path.join(dir, 'privkey.pem'), nobody, postgresGid());
  fs.chmodSync(path.join(dir, 'privkey.pem'), 0o640);
  fs.chownSync(box.paths.certificates, 0, 0);
  return ca;
}
