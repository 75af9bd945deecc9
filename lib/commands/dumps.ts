/**
 * `dumps`: the complete logical dumps in the container's backup volume, newest first, as
 * `backup.sh list` reports them (a failed or running dump has no dump's name yet). Read through the
 * running container, so the host never needs the volume's path.
 */
import { SCRIPT } from '../core/container-contract.js';
import { formatAge, formatBytes, formatTable } from '../core/format.js';
import type { Context } from '../context.js';
import { Podman } from '../host/podman.js';
import { PgQuadletError } from '../core/errors.js';

export interface Dump {
  /** The directory's name in the backup volume, e.g. `poststack_20260101T020000Z`. */
  readonly name: string;
  /** When the backup started, from its name (UTC, ISO 8601). */
  readonly takenAt: string;
  readonly ageSeconds: number;
  readonly sizeBytes: number;
}

/** Parses `backup.sh list`: one `epoch<TAB>bytes<TAB>name` line per backup. */
export function parseDumpList(text: string, now: number = Date.now()): Dump[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const match = /^(\d+)\t(\d+)\t(\S+)$/.exec(line);
      if (!match) throw new PgQuadletError('PG_QUADLET_COMMAND', `unexpected line from backup.sh list: ${JSON.stringify(line)}`);
      const epoch = Number(match[1]);
      return {
        name: match[3] as string,
        takenAt: new Date(epoch * 1000).toISOString(),
        ageSeconds: Math.max(0, Math.round(now / 1000 - epoch)),
        sizeBytes: Number(match[2]),
      };
    });
}

export async function dumps({ config, runner }: Context, options: { now?: number } = {}): Promise<Dump[]> {
  const podman = new Podman(runner);
  await podman.requireRunning(config.name, config.rootless);
  return parseDumpList(await podman.exec(config.name, [SCRIPT.dump, 'list']), options.now);
}

export function formatDumps(list: readonly Dump[]): string {
  if (list.length === 0) return 'No dumps yet: run pg-quadlet dump.';
  const rows = list.map((item) => [item.name, item.takenAt.replace('.000Z', 'Z'), `${formatAge(item.ageSeconds)} ago`, formatBytes(item.sizeBytes)]);
  return formatTable(['NAME', 'TAKEN (UTC)', 'AGE', 'SIZE'], rows);
}
