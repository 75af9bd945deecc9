/**
 * Host: a one-shot container of the service's image on the service's volumes, for the work the
 * running server must not be there for (a restore, putting a data directory back). It is as
 * hardened as the service's and carries only settings that are no secret.
 */
import type { ResolvedConfig } from '../core/config.js';
import { CONTAINER, ENV } from '../core/container-contract.js';

export function oneShot(config: ResolvedConfig, command: readonly string[]): readonly [string, ...string[]] {
  const env = {
    [ENV.database]: config.database,
    [ENV.user]: config.user,
    [ENV.backupKeepDays]: String(config.backup.keepDays),
    [ENV.archiveTimeout]: String(config.backup.archiveTimeoutSec),
  };
  return [
    'podman', 'run', '--rm', `--name=${config.name}-restore`,
    '--read-only', '--cap-drop=all', '--security-opt=no-new-privileges',
    `--volume=${config.dataVolume}:${CONTAINER.dataDir}`,
    `--volume=${config.backupVolume}:${CONTAINER.backupDir}`,
    ...Object.entries(env).map(([name, value]) => `--env=${name}=${value}`),
    config.image,
    ...command,
  ];
}
