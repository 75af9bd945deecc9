/** `verify`: pgBackRest checks every backup and every archived WAL file in the repository against
 * its checksum; a damaged file is named, and the command fails. */
import { SCRIPT } from '../core/container-contract.js';
import type { Context } from '../context.js';
import { Podman } from '../host/podman.js';

export interface VerifyResult {
  readonly ok: true;
  readonly message: string;
}

export async function verify({ config, runner }: Context, options: { onProgress?: (line: string) => void } = {}): Promise<VerifyResult> {
  const podman = new Podman(runner);
  await podman.requireRunning(config.name, config.rootless);
  const output = await podman.exec(config.name, [SCRIPT.pgbackrest, 'verify'], options.onProgress ? { onStderrLine: options.onProgress } : {});
  return { ok: true, message: output.trim().split('\n').at(-1)?.replace(/^pgbackrest\.sh: /, '') ?? 'verify passed' };
}

export function formatVerify(result: VerifyResult): string {
  return `${result.message[0]?.toUpperCase() ?? ''}${result.message.slice(1)}.`;
}
