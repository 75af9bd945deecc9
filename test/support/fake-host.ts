// A stand-in for systemctl, podman and loginctl behind the Runner interface: it keeps the state
// those tools would (secrets, enabled and active units) and records every call with its input,
// so tests can assert exactly what pg-quadlet ran, and that no secret was ever an argument.
import type { CommandResult, Runner, RunOptions } from '../../lib/runner.js';

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
  health: string | undefined = 'healthy';
  /** After a daemon-reload every unit counts as loaded, as the files are there by then. */
  private reloaded = false;
  linger = true;
  /** What `podman exec CONTAINER COMMAND...` prints, by the command in the container (backup.sh, restore.sh). */
  readonly execs = new Map<string, CommandResult>([['/usr/local/bin/backup.sh list', ok('')]]);
  /** Commands (matched by their start) that fail with this stderr. */
  readonly failures = new Map<string, string>();

  async run(file: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    const command = [file, ...args].join(' ');
    this.calls.push({ command, ...(options.input ? { input: options.input } : {}) });
    for (const [prefix, stderr] of this.failures) if (command.startsWith(prefix)) return { exitCode: 1, stdout: '', stderr };
    const rest = args[0] === '--user' ? args.slice(1) : args;
    if (file === 'systemctl') return this.systemctl(rest);
    if (file === 'podman') {
      const result = this.podman(args, options.input);
      if (options.onStderrLine && result.stderr) for (const line of result.stderr.split('\n')) options.onStderrLine(line);
      return result;
    }
    if (file === 'loginctl') return ok(this.linger ? 'yes' : 'no');
    return { exitCode: 127, stdout: '', stderr: `${file}: not found` };
  }

  /** The calls that change something (what a dry run must never make). */
  mutatingCalls(): string[] {
    const readOnly = /^(systemctl( --user)? (show|is-enabled)|podman (secret inspect|inspect|volume exists|exec \S+ \/usr\/local\/bin\/backup\.sh list)|loginctl)/;
    return this.calls.map((call) => call.command).filter((command) => !readOnly.test(command));
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
        this.active.add(unit);
        return ok('');
      case 'disable':
        this.enabled.delete(unit);
        this.active.delete(unit);
        return ok('');
      case 'start':
        this.active.add(unit);
        return ok('');
      case 'stop':
        this.active.delete(unit);
        return ok('');
      case 'show': {
        const name = rest[0] ?? '';
        const state = this.active.has(name) ? 'active' : 'inactive';
        return ok(
          [
            `LoadState=${this.loaded.has(name) || this.reloaded ? 'loaded' : 'not-found'}`,
            `ActiveState=${state}`,
            `SubState=${state === 'active' ? 'running' : 'dead'}`,
            'LastTriggerUSec=Fri 2026-11-27 02:00:03 UTC',
            'NextElapseUSecRealtime=Sat 2026-11-28 02:03:12 UTC',
            'Result=success',
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
      this.secrets.set(args[2] ?? '', input ?? '');
      return ok('a1b2c3');
    }
    if (group === 'secret' && verb === 'rm') return this.secrets.delete(name) ? ok('') : { exitCode: 1, stdout: '', stderr: 'no such secret' };
    if (group === 'volume' && verb === 'exists') return this.volumes.has(name) ? ok('') : { exitCode: 1, stdout: '', stderr: '' };
    if (group === 'volume' && verb === 'rm') return this.volumes.delete(name) ? ok(name) : { exitCode: 1, stdout: '', stderr: 'no such volume' };
    if (group === 'exec') return this.execs.get(args.slice(2).join(' ')) ?? { exitCode: 127, stdout: '', stderr: `no such command in the container: ${args.slice(2).join(' ')}` };
    if (group === 'inspect') return this.health === undefined ? { exitCode: 125, stdout: '', stderr: 'no such container' } : ok(this.health);
    return { exitCode: 125, stdout: '', stderr: `unknown podman command ${args.join(' ')}` };
  }
}

function ok(stdout: string): CommandResult {
  return { exitCode: 0, stdout, stderr: '' };
}
