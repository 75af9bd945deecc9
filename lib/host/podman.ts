/** Host: the podman commands pg-quadlet asks (changes go through actions.ts). Secrets travel on
 * standard input, never as arguments. */
import { PgQuadletError } from '../core/errors.js';
import { runChecked, type Runner, type RunOptions } from './runner.js';

/** A command needs the running container, and it is not running. */
export class NotRunningError extends PgQuadletError {
  override readonly name = 'NotRunningError';

  constructor(container: string, rootless: boolean) {
    super('PG_QUADLET_NOT_RUNNING', `${container} is not running: start it with systemctl${rootless ? ' --user' : ''} start ${container}.service`);
  }
}

export class Podman {
  constructor(private readonly runner: Runner) {}

  async secretExists(name: string): Promise<boolean> {
    return (await this.runner.run('podman', ['secret', 'inspect', '--format', '{{.ID}}', name])).exitCode === 0;
  }

  /** The secret's value, read back through Podman (needs Podman 4.7's --showsecret). */
  async secretValue(name: string): Promise<string> {
    return runChecked(this.runner, 'podman', ['secret', 'inspect', '--showsecret', '--format', '{{.SecretData}}', name]);
  }

  async volumeExists(name: string): Promise<boolean> {
    return (await this.runner.run('podman', ['volume', 'exists', name])).exitCode === 0;
  }

  /** Where the volume's files are on this host, or undefined when there is no such volume. */
  async volumeMountpoint(name: string): Promise<string | undefined> {
    const result = await this.runner.run('podman', ['volume', 'inspect', '--format', '{{.Mountpoint}}', name]);
    return result.exitCode === 0 && result.stdout.trim() !== '' ? result.stdout.trim() : undefined;
  }

  /** The container's health ("healthy", "starting", "unhealthy"), or undefined when it is not running. */
  async health(container: string): Promise<string | undefined> {
    const result = await this.runner.run('podman', ['inspect', '--type', 'container', '--format', '{{.State.Health.Status}}', container]);
    return result.exitCode === 0 ? result.stdout.trim() || undefined : undefined;
  }

  async isRunning(container: string): Promise<boolean> {
    const result = await this.runner.run('podman', ['inspect', '--type', 'container', '--format', '{{.State.Running}}', container]);
    return result.exitCode === 0 && result.stdout.trim() === 'true';
  }

  /** Throws `NotRunningError`, which says how to start it, unless the container runs. */
  async requireRunning(container: string, rootless: boolean): Promise<void> {
    if (!(await this.isRunning(container))) throw new NotRunningError(container, rootless);
  }

  exec(container: string, command: readonly string[], options: RunOptions & { interactive?: boolean } = {}): Promise<string> {
    const { interactive, ...run } = options;
    return runChecked(this.runner, 'podman', ['exec', ...(interactive ? ['--interactive'] : []), container, ...command], run);
  }
}
