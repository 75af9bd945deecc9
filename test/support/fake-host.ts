// A recording stand-in for systemctl, podman, loginctl, systemd-analyze and cat behind the Runner
// interface: it keeps the state those tools would (secrets, volumes, enabled, active and started
// units, files) and records every call with its input, so tests can assert exactly what
// pg-quadlet ran, and that no secret was ever an argument. It is not a model of systemd or
// Podman: what they do for real is proven by the image, pool, real-units and e2e tests.
import { CommandError, type CommandResult, type Runner, type RunOptions } from '../../lib/host/runner.js';

export interface Call {
  readonly command: string;
  readonly input?: string;
}

export class FakeHost implements Runner {
  readonly calls: Call[] = [];
  readonly secrets = new Map<string, string>();
  readonly volumes = new Set<string>();
  readonly enabled = new Set<string>();
  readonly active = new Set<string>();
  readonly loaded = new Set<string>();
  /** Units left failed, with the restarts before (10, the units' start limit, ends a crash loop). */
  readonly failed = new Map<string, number>();
  /** When each unit last became active, in seconds since the epoch. */
  readonly started = new Map<string, number>();
  /** Host files `cat` can read (e.g. a volume's identity record). */
  readonly files = new Map<string, string>();
  health: string | undefined = 'healthy';
  /** After a daemon-reload every unit counts as loaded, as the files are there by then. */
  private reloaded = false;
  linger = true;
  /** What `podman exec [--interactive] CONTAINER COMMAND...` prints, by the command in the container. */
  readonly execs = new Map<string, CommandResult>([['/usr/local/bin/backup.sh list', ok('')]]);
  /** What a one-shot `podman run ... IMAGE COMMAND...` prints, by the command (from its script path on). */
  readonly oneShots = new Map<string, CommandResult>();
  /** Commands (matched by their start) that fail with this stderr. */
  readonly failures = new Map<string, string>();
  /** Tools that are not installed: running them throws as the real runner does. */
  readonly missing = new Set<string>();
  /** Images by name (tag) with their IDs: the default image is there, as after a first install. */
  readonly images = new Map<string, string>([['localhost/postgres-debian:15', '1'.repeat(64)]]);
  private builds = 0;
  /** The versions `podman run --entrypoint=/bin/sh IMAGE -c ...` reports, by image ID. */
  versions = (id: string) => `postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u${id.at(-1)})\nPgBouncer 1.18.0\npgBackRest 2.45`;

  async run(file: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    const command = [file, ...args].join(' ');
    this.calls.push({ command, ...(options.input ? { input: options.input } : {}) });
    if (this.missing.has(file)) throw new CommandError(file, undefined, 'not found: is it installed and on PATH?');
    for (const [prefix, stderr] of this.failures) if (command.startsWith(prefix)) return { exitCode: 1, stdout: '', stderr };
    const rest = args[0] === '--user' ? args.slice(1) : args;
    if (file === 'systemctl') return this.systemctl(rest.filter((arg) => arg !== '--timestamp=unix'));
    if (file === 'podman') {
      const result = this.podman(args, options.input);
      if (options.onStderrLine && result.stderr) for (const line of result.stderr.split('\n')) options.onStderrLine(line);
      if (options.onStdoutLine && result.stdout) for (const line of result.stdout.split('\n')) options.onStdoutLine(line);
      return result;
    }
    if (file === 'loginctl') return ok(this.linger ? 'yes' : 'no');
    if (file === 'systemd-analyze') return ok('Normalized form: ...');
    if (file === 'cat') return this.cat(args.at(-1) ?? '');
    return { exitCode: 127, stdout: '', stderr: `${file}: not found` };
  }

  /** The calls that change something (what a dry run must never make). */
  mutatingCalls(): string[] {
    const readOnly =
      /^(systemctl( --user)? (show|is-enabled)|podman (secret inspect|inspect|image inspect|run --rm --network=none --read-only --entrypoint=\/bin\/sh|volume (exists|inspect)|unshare cat|exec \S+ (\/usr\/local\/bin\/backup\.sh list|\/usr\/local\/bin\/pgbackrest\.sh info|psql))|loginctl|systemd-analyze|cat)/;
    return this.calls.map((call) => call.command).filter((command) => !readOnly.test(command));
  }

  /** Marks the config's units loaded and active, as after `install --now`. */
  running(...units: string[]): this {
    for (const unit of units) {
      this.loaded.add(unit);
      this.activate(unit);
    }
    return this;
  }

  private activate(unit: string): void {
    this.active.add(unit);
    this.started.set(unit, Math.floor(Date.now() / 1000));
  }

  private cat(path: string): CommandResult {
    const content = this.files.get(path);
    return content === undefined ? { exitCode: 1, stdout: '', stderr: `cat: ${path}: No such file or directory` } : ok(content);
  }

  private systemctl([verb, ...rest]: readonly string[]): CommandResult {
    const unit = rest.at(-1) ?? '';
    switch (verb) {
      case 'daemon-reload':
        this.reloaded = true;
        return ok('');
      case 'is-enabled':
        return this.enabled.has(unit) ? ok('enabled') : { exitCode: 1, stdout: 'disabled', stderr: '' };
      case 'enable':
        this.enabled.add(unit);
        this.activate(unit);
        return ok('');
      case 'disable':
        this.enabled.delete(unit);
        this.active.delete(unit);
        return ok('');
      case 'start':
      case 'restart':
        this.activate(unit);
        return ok('');
      case 'reset-failed':
        return ok('');
      case 'stop':
        this.active.delete(unit);
        return ok('');
      case 'show': {
        const name = rest[0] ?? '';
        const state = this.active.has(name) ? 'active' : this.failed.has(name) ? 'failed' : 'inactive';
        return ok(
          [
            `LoadState=${this.loaded.has(name) || this.reloaded ? 'loaded' : 'not-found'}`,
            `ActiveState=${state}`,
            `SubState=${state === 'active' ? 'running' : 'dead'}`,
            `ActiveEnterTimestamp=${this.started.has(name) ? `@${this.started.get(name)}` : 'n/a'}`,
            'NeedDaemonReload=no',
            'LastTriggerUSec=Fri 2026-11-27 02:00:03 UTC',
            'NextElapseUSecRealtime=Sat 2026-11-28 02:03:12 UTC',
            `Result=${this.failed.has(name) ? 'exit-code' : 'success'}`,
            `NRestarts=${this.failed.get(name) ?? 0}`,
            'StartLimitBurst=10',
          ].join('\n'),
        );
      }
      default:
        return { exitCode: 1, stdout: '', stderr: `unknown systemctl verb ${verb}` };
    }
  }

  private podman(args: readonly string[], input?: string): CommandResult {
    const [group, verb] = args;
    const name = args.at(-1) ?? '';
    if (group === 'secret' && verb === 'inspect') {
      if (!this.secrets.has(name)) return { exitCode: 125, stdout: '', stderr: `Error: no secret with name or id "${name}": no such secret` };
      return ok(args.includes('--showsecret') ? (this.secrets.get(name) as string) : 'a1b2c3');
    }
    if (group === 'secret' && verb === 'create') {
      const secret = args.at(-2) ?? '';
      if (this.secrets.has(secret) && !args.includes('--replace')) return { exitCode: 125, stdout: '', stderr: `Error: ${secret}: secret name in use` };
      this.secrets.set(secret, input ?? '');
      return ok('a1b2c3');
    }
    if (group === 'secret' && verb === 'rm') return this.secrets.delete(name) ? ok('') : { exitCode: 1, stdout: '', stderr: 'no such secret' };
    if (group === 'volume' && verb === 'exists') return this.volumes.has(name) ? ok('') : { exitCode: 1, stdout: '', stderr: '' };
    if (group === 'volume' && verb === 'inspect') {
      return this.volumes.has(name) ? ok(`/var/lib/containers/storage/volumes/${name}/_data`) : { exitCode: 125, stdout: '', stderr: `Error: no such volume ${name}` };
    }
    if (group === 'volume' && verb === 'rm') return this.volumes.delete(name) ? ok(name) : { exitCode: 1, stdout: '', stderr: 'no such volume' };
    if (group === 'unshare' && verb === 'cat') return this.cat(name);
    if (group === 'exec') {
      const command = args.slice(args[1] === '--interactive' ? 3 : 2).join(' ');
      return this.execs.get(command) ?? { exitCode: 127, stdout: '', stderr: `no such command in the container: ${command}` };
    }
    if (group === 'inspect') {
      const running = this.active.has(`${name}.service`);
      if (args.includes('{{.State.Running}}')) return running ? ok('true') : { exitCode: 125, stdout: '', stderr: `Error: no such container ${name}` };
      return this.health === undefined ? { exitCode: 125, stdout: '', stderr: 'no such container' } : ok(this.health);
    }
    if (group === 'cp') return ok('');
    if (group === 'image' && verb === 'inspect') {
      const id = this.images.get(name) ?? [...this.images.values()].find((value) => value === name);
      return id ? ok(id) : { exitCode: 125, stdout: '', stderr: `Error: ${name}: image not known` };
    }
    if (group === 'image' && verb === 'rm') return ok('');
    if (group === 'tag') {
      const id = this.images.get(args[1] ?? '') ?? args[1] ?? '';
      this.images.set(args[2] ?? '', id);
      return ok('');
    }
    if (group === 'build') {
      const tag = args.find((arg) => arg.startsWith('--tag='))?.slice('--tag='.length) ?? '';
      this.builds += 1;
      this.images.set(tag, String(this.builds + 1).repeat(64));
      return ok('[1/2] STEP 1/2: FROM base AS build\n[1/2] STEP 2/2: RUN apt-get install\nGetting packages\n[2/2] STEP 1/1: FROM base');
    }
    if (group === 'run' && args.includes('--entrypoint=/bin/sh')) return ok(this.versions(args[args.indexOf('--entrypoint=/bin/sh') + 1] ?? ''));
    if (group === 'run') {
      const command = args.slice(args.findIndex((arg) => arg.startsWith('/usr/local/bin/'))).join(' ');
      return this.oneShots.get(command) ?? { exitCode: 127, stdout: '', stderr: `no such command in the one-shot container: ${command}` };
    }
    return { exitCode: 125, stdout: '', stderr: `unknown podman command ${args.join(' ')}` };
  }
}

export function ok(stdout: string, stderr = ''): CommandResult {
  return { exitCode: 0, stdout, stderr };
}
