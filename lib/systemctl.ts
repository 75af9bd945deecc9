/** systemctl, for the system manager or a user's (`--user`). */
import { runChecked, type Runner } from './runner.js';

export type UnitProperties = Readonly<Record<string, string>>;

export class Systemctl {
  constructor(
    private readonly runner: Runner,
    private readonly user: boolean,
  ) {}

  private args(args: readonly string[]): string[] {
    return this.user ? ['--user', ...args] : [...args];
  }

  daemonReload(): Promise<string> {
    return runChecked(this.runner, 'systemctl', this.args(['daemon-reload']));
  }

  start(unit: string): Promise<string> {
    return runChecked(this.runner, 'systemctl', this.args(['start', unit]));
  }

  async stop(unit: string): Promise<void> {
    // Stopping a unit that is not loaded (never installed, already removed) is not a failure.
    const result = await this.runner.run('systemctl', this.args(['stop', unit]));
    if (result.exitCode !== 0 && !/not loaded|not found/i.test(result.stderr)) {
      await runChecked(this.runner, 'systemctl', this.args(['stop', unit]));
    }
  }

  enableNow(unit: string): Promise<string> {
    return runChecked(this.runner, 'systemctl', this.args(['enable', '--now', unit]));
  }

  async disableNow(unit: string): Promise<void> {
    const result = await this.runner.run('systemctl', this.args(['disable', '--now', unit]));
    if (result.exitCode !== 0 && !/not loaded|not found|does not exist/i.test(result.stderr)) {
      await runChecked(this.runner, 'systemctl', this.args(['disable', '--now', unit]));
    }
  }

  async isEnabled(unit: string): Promise<boolean> {
    const result = await this.runner.run('systemctl', this.args(['is-enabled', unit]));
    return result.exitCode === 0 && result.stdout.trim() === 'enabled';
  }

  /** `systemctl show`: the named properties of a unit (an unknown unit reads as LoadState=not-found). */
  async show(unit: string, properties: readonly string[]): Promise<UnitProperties> {
    const stdout = await runChecked(this.runner, 'systemctl', this.args(['show', unit, `--property=${properties.join(',')}`]));
    return Object.fromEntries(
      stdout
        .split('\n')
        .filter((line) => line.includes('='))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
  }
}
