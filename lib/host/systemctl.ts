/** Host: what pg-quadlet asks systemctl, for the system manager or a user's (`--user`). Changes
 * go through actions.ts, so a dry run shows them. */
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

  async isEnabled(unit: string): Promise<boolean> {
    const result = await this.runner.run('systemctl', this.args(['is-enabled', unit]));
    return result.exitCode === 0 && result.stdout.trim() === 'enabled';
  }

  /** `systemctl show`: the named properties of a unit (an unknown unit reads as LoadState=not-found).
   * Times are in seconds since the epoch, written `@1764400000`. */
  async show(unit: string, properties: readonly string[]): Promise<UnitProperties> {
    const stdout = await runChecked(this.runner, 'systemctl', this.args(['show', unit, '--timestamp=unix', `--property=${properties.join(',')}`]));
    return Object.fromEntries(
      stdout
        .split('\n')
        .filter((line) => line.includes('='))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
  }
}

/** `@1764400000` (systemctl show --timestamp=unix) as milliseconds; undefined when unset. */
export function unixTimestamp(value: string | undefined): number | undefined {
  const match = /^@(\d+)$/.exec(value ?? '');
  return match ? Number(match[1]) * 1000 : undefined;
}
