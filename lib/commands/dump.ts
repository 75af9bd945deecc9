/** `dump`: a logical dump now (pg_dump's directory format and the roles), in the running
 * container's backup volume: portable, and the way between major versions. Reports what backup.sh
 * wrote. The physical backups with point-in-time recovery are `backup`'s. */
import { SCRIPT } from '../core/container-contract.js';
import { formatBytes } from '../core/format.js';
import type { Context } from '../context.js';
import { Podman } from '../host/podman.js';
import { PgQuadletError } from '../core/errors.js';

export interface DumpResult {
  readonly name: string;
  readonly sizeBytes: number;
  readonly seconds: number;
  /** Backups kept by retention after this one, itself included. */
  readonly kept: number;
  /** Backups retention removed after this one succeeded. */
  readonly removed: string[];
}

/** Parses backup.sh's line: `backup: wrote NAME, 13.6 MiB (14304847 bytes) in 5.31 s; kept 3, removed 1 (NAME)`. */
export function parseDumpLine(output: string): DumpResult {
  const match = /^backup: wrote (\S+), .*\((\d+) bytes\) in ([\d.]+) s; kept (\d+), removed (\d+)(?: \((.*)\))?$/m.exec(output);
  if (!match) throw new PgQuadletError('PG_QUADLET_COMMAND', `backup.sh did not report a backup: ${JSON.stringify(output.trim().split('\n').at(-1) ?? '')}`);
  return {
    name: match[1] as string,
    sizeBytes: Number(match[2]),
    seconds: Number(match[3]),
    kept: Number(match[4]),
    removed: match[6] ? match[6].split(' ') : [],
  };
}

export async function dump({ config, runner }: Context): Promise<DumpResult> {
  const podman = new Podman(runner);
  await podman.requireRunning(config.name, config.rootless);
  return parseDumpLine(await podman.exec(config.name, [SCRIPT.dump]));
}

export function formatDump(result: DumpResult): string {
  const removed = result.removed.length > 0 ? `; removed ${result.removed.length} expired: ${result.removed.join(', ')}` : '';
  return `Dumped to ${result.name}: ${formatBytes(result.sizeBytes)} in ${result.seconds.toFixed(1)} s (${result.kept} kept${removed}).`;
}
