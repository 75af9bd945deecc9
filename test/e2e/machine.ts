// A machine booted from the Debian trixie tree with systemd-nspawn (test/e2e/machine.sh), and the
// ways into it. Commands run in the machine's namespaces through nsenter; anything that must
// look like a user's command (in a unit's cgroup, with a clean environment, as another user)
// goes through systemd-run. Every wait is bounded.
import { execa } from 'execa';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import readline from 'node:readline';
import path from 'node:path';

const MACHINE_SH = path.join(import.meta.dirname, 'machine.sh');
const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface RunResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time of the whole call, in milliseconds. */
  readonly ms: number;
}

export interface RunOptions {
  /** Bytes for the command's standard input. */
  readonly input?: string;
  readonly timeoutMs?: number;
  /** Run as a transient unit (`systemd-run --pipe --wait`), optionally as this user. */
  readonly unit?: boolean;
  readonly user?: { readonly name: string; readonly uid: number };
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

export class CommandFailed extends Error {
  override readonly name = 'CommandFailed';
  constructor(
    readonly command: readonly string[],
    readonly result: RunResult,
  ) {
    const output = [result.stdout, result.stderr].filter((text) => text.trim() !== '').join('\n');
    super(`\`${command.join(' ')}\` exited ${result.exitCode} after ${result.ms} ms${output ? `:\n${output}` : ''}`);
  }
}

export interface BootOptions {
  /** Per-run directory on the host: the overlay's upper layer and work directory go here. */
  readonly runDir: string;
  /** Extra systemd-nspawn arguments, e.g. `--bind-ro=SRC:DST`. */
  readonly nspawnArgs: readonly string[];
  readonly bootTimeoutMs?: number;
  /** Passed on so a caller's own deadline, not the lock, decides how long to wait for the tree. */
  readonly lockTimeoutSec?: number;
}

export class Machine {
  private lines: string[] = [];
  private waiters: Array<() => void> = [];
  private exited = false;
  private stderr = '';
  leader = 0;
  /** How each boot went: `running`, or `degraded` with failed units. */
  state = '';
  /** Milliseconds from starting systemd-nspawn (or asking for a reboot) to a running system. */
  bootMs: number[] = [];

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly options: BootOptions,
  ) {
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      this.lines.push(line);
      this.wake();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-20_000);
    });
    child.on('exit', () => {
      this.exited = true;
      this.wake();
    });
  }

  private wake() {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** The machine's name, which is also its cgroup's (machine.sh names it after its own PID). */
  get name(): string {
    return `pgq-e2e-${this.child.pid}`;
  }

  /** Starts machine.sh, which takes the tree's lock and boots; resolves once systemd runs. */
  static async boot(options: BootOptions): Promise<Machine> {
    const child = spawn('bash', ['--norc', '--noprofile', MACHINE_SH, options.runDir, ...options.nspawnArgs], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        MACHINE_BOOT_TIMEOUT: String(Math.ceil((options.bootTimeoutMs ?? 90_000) / 1000)),
        ...(options.lockTimeoutSec ? { MACHINE_LOCK_TIMEOUT: String(options.lockTimeoutSec) } : {}),
      },
    });
    const machine = new Machine(child, options);
    try {
      await machine.awaitReady((options.lockTimeoutSec ?? 900) * 1000 + (options.bootTimeoutMs ?? 90_000) + 5000);
    } catch (error) {
      await machine.poweroff();
      throw error;
    }
    return machine;
  }

  private async nextLine(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.exited) throw new Error(`machine.sh exited:\n${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`machine.sh said nothing for ${timeoutMs} ms:\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.lines.shift() as string;
  }

  private async awaitReady(timeoutMs: number): Promise<void> {
    const started = Date.now();
    const line = await this.nextLine(timeoutMs);
    const ready = /^ready (\d+) (\S+)$/.exec(line);
    if (!ready) throw new Error(`the machine did not boot: ${line}\n${this.stderr}`);
    this.leader = Number(ready[1]);
    this.state = ready[2] as string;
    this.bootMs.push(Date.now() - started);
  }

  /** Powers the machine off cleanly and boots it again from the same overlay. */
  async reboot(): Promise<void> {
    this.child.stdin.write('reboot\n');
    await this.awaitReady((this.options.bootTimeoutMs ?? 90_000) + 70_000);
  }

  /** Powers off and waits for machine.sh to clean up; safe to call more than once. */
  async poweroff(timeoutMs = 90_000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end('poweroff\n');
    const timer = setTimeout(() => this.child.kill('SIGTERM'), timeoutMs);
    await gone;
    clearTimeout(timer);
  }

  /** Runs a command in the machine. Never throws for a non-zero exit; see `must`. */
  async run(command: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const env = Object.entries(options.env ?? {}).map(([name, value]) => `${name}=${value}`);
    let inside: string[];
    if (options.unit || options.user) {
      const user = options.user
        ? [`--uid=${options.user.name}`, `--setenv=XDG_RUNTIME_DIR=/run/user/${options.user.uid}`]
        : [];
      inside = [
        'systemd-run', '--pipe', '--wait', '--collect', '--quiet', '--service-type=exec',
        // As a property, `~` reaches systemd, which reads it as the user's home directory.
        `--property=WorkingDirectory=${options.cwd ?? (options.user ? '~' : '/')}`,
        ...user, ...env.map((pair) => `--setenv=${pair}`), '--', ...command,
      ];
    } else {
      inside = ['env', '-i', PATH, 'LANG=C.UTF-8', 'HOME=/root', ...env, ...command];
    }
    const started = Date.now();
    const result = await execa('nsenter', [`--target=${this.leader}`, '--all', '--', ...inside], {
      reject: false,
      input: options.input ?? '',
      timeout: options.timeoutMs ?? 60_000,
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
      extendEnv: false,
      ...(options.unit || options.user ? {} : { cwd: '/' }),
    });
    const ms = Date.now() - started;
    const stderr = result.timedOut ? `${result.stderr}\n(killed after ${options.timeoutMs ?? 60_000} ms)` : result.stderr;
    return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr, ms };
  }

  /** Runs a command that must succeed; returns its standard output. */
  async must(command: readonly string[], options: RunOptions = {}): Promise<string> {
    const result = await this.run(command, options);
    if (result.exitCode !== 0) throw new CommandFailed(command, result);
    return result.stdout;
  }

  /** The journal of the given units (system units, or with `user` a user manager's), for a
   * failure report. */
  async journal(units: readonly string[], options: { lines?: number; since?: number; user?: boolean } = {}): Promise<string> {
    // journalctl --user-unit matches the caller's own UID (root's here): match the field instead.
    const unitArgs = options.user ? units.map((unit) => `_SYSTEMD_USER_UNIT=${unit}`) : units.flatMap((unit) => ['--unit', unit]);
    const since = options.since === undefined ? [] : [`--since=@${options.since}`];
    const result = await this.run(['journalctl', '--no-pager', '--output=short-precise', `--lines=${options.lines ?? 120}`, ...since, ...unitArgs], { timeoutMs: 20_000 });
    return result.stdout || result.stderr;
  }
}
