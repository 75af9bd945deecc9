/** The few podman commands pg-quadlet needs. Secrets travel on standard input, never as arguments. */
import { runChecked, type Runner, type RunOptions } from './runner.js';

export class Podman {
  constructor(private readonly runner: Runner) {}

  async secretExists(name: string): Promise<boolean> {
    return (await this.runner.run('podman', ['secret', 'inspect', '--format', '{{.ID}}', name])).exitCode === 0;
  }

  async createSecret(name: string, value: string): Promise<void> {
    await runChecked(this.runner, 'podman', ['secret', 'create', name, '-'], { input: value });
  }

  /** The secret's value, read back through Podman (needs Podman 4.7's --showsecret). */
  async secretValue(name: string): Promise<string> {
    return runChecked(this.runner, 'podman', ['secret', 'inspect', '--showsecret', '--format', '{{.SecretData}}', name]);
  }

  async removeSecret(name: string): Promise<void> {
    if (await this.secretExists(name)) await runChecked(this.runner, 'podman', ['secret', 'rm', name]);
  }

  async removeVolume(name: string): Promise<void> {
    const exists = await this.runner.run('podman', ['volume', 'exists', name]);
    if (exists.exitCode === 0) await runChecked(this.runner, 'podman', ['volume', 'rm', name]);
  }

  /** The container's health ("healthy", "starting", "unhealthy"), or undefined when it is not running. */
  async health(container: string): Promise<string | undefined> {
    const result = await this.runner.run('podman', ['inspect', '--type', 'container', '--format', '{{.State.Health.Status}}', container]);
    return result.exitCode === 0 ? result.stdout.trim() || undefined : undefined;
  }

  /** Copies a host file or directory into a running container, owned by the container's user. */
  async copyInto(source: string, container: string, destination: string): Promise<void> {
    await runChecked(this.runner, 'podman', ['cp', '--', source, `${container}:${destination}`]);
  }

  exec(container: string, command: readonly string[], options?: RunOptions): Promise<string> {
    return runChecked(this.runner, 'podman', ['exec', container, ...command], options);
  }
}
