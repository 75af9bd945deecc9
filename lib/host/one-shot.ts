/**
 * Host: a one-shot container of the service's image on the service's volumes, for the work the
 * running server must not be there for (a restore, putting a data directory back). It is as
 * hardened as the service's; secrets reach it as the service's do, as Podman secrets (files).
 */
import { repositorySetup, secretOption } from '../core/backup-repos.js';
import type { ResolvedConfig } from '../core/config.js';
import { CONTAINER, ENV } from '../core/container-contract.js';

export function oneShot(config: ResolvedConfig, command: readonly string[]): readonly [string, ...string[]] {
  const repositories = repositorySetup(config);
  const env = {
    [ENV.database]: config.database,
    [ENV.user]: config.user,
    [ENV.backupKeepDays]: String(config.backup.keepDays),
    [ENV.archiveTimeout]: String(config.backup.archiveTimeoutSec),
    ...repositories.environment,
  };
  return [
    'podman', 'run', '--rm', `--name=${config.name}-restore`,
    '--read-only', '--cap-drop=all', '--security-opt=no-new-privileges',
    `--volume=${config.dataVolume}:${CONTAINER.dataDir}`,
    `--volume=${config.backupVolume}:${CONTAINER.backupDir}`,
    ...repositories.mounts.map((mount) => `--volume=${mount}`),
    ...repositories.secrets.map((secret) => `--secret=${secretOption(secret)}`),
    ...Object.entries(env).map(([name, value]) => `--env=${name}=${value}`),
    config.image,
    ...command,
  ];
}
