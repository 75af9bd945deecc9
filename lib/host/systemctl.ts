/** Host: what pg-quadlet asks systemctl, for the system manager or a user's (`--user`). Changes
 * go through actions.ts, so a dry run shows them. */
import { statSync } from 'node:fs';
import path from 'node:path';
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

/** A time as systemctl show prints it, as milliseconds: `@1764400000` (with --timestamp=unix), or
 * `Sat 2026-11-28 02:03:12 UTC`, which some properties keep whatever the style; undefined when
 * unset (`n/a`, empty) or in a time zone other than UTC. */
export function systemdTime(value: string | undefined): number | undefined {
  const unix = /^@(\d+)$/.exec(value ?? '');
  if (unix) return Number(unix[1]) * 1000;
  const utc = /^\w{3} (\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) UTC$/.exec(value ?? '');
  return utc ? Date.parse(`${utc[1]}T${utc[2]}Z`) : undefined;
}

/**
 * The services among those given that run, but on older units than their Quadlet files: the file
 * changed after the service started (install wrote it without --now), or systemd was not reloaded
 * since. A file rewritten with the same content keeps its time, and is no change.
 */
export async function staleServices(systemctl: Systemctl, quadletDir: string, services: readonly string[]): Promise<string[]> {
  const stale: string[] = [];
  for (const service of services) {
    const shown = await systemctl.show(service, ['ActiveState', 'ActiveEnterTimestamp', 'NeedDaemonReload']);
    if (shown.ActiveState !== 'active') continue;
    const file = path.join(quadletDir, service.replace(/\.service$/, '.container'));
    const modified = statSync(file, { throwIfNoEntry: false })?.mtimeMs;
    const started = systemdTime(shown.ActiveEnterTimestamp);
    // Unit times are whole seconds: a file written within the second the unit started is older.
    const newer = modified !== undefined && started !== undefined && Math.floor(modified / 1000) * 1000 > started;
    if (shown.NeedDaemonReload === 'yes' || newer) stale.push(service);
  }
  return stale;
}
