/**
 * Host: what the data volume says about the cluster in it, read without the container running:
 * who the cluster was made for (the identity record the entrypoint writes in PGDATA), and of the
 * backup volume, whether its pgBackRest repository is encrypted.
 */
import path from 'node:path';
import type { ResolvedConfig } from '../core/config.js';
import { CONTAINER } from '../core/container-contract.js';
import { Podman } from './podman.js';
import type { Runner } from './runner.js';

export interface ClusterIdentity {
  readonly database?: string;
  readonly user?: string;
}

export function parseIdentity(text: string): ClusterIdentity {
  const fields = new Map(
    text
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const),
  );
  const database = fields.get('database');
  const user = fields.get('user');
  return { ...(database ? { database } : {}), ...(user ? { user } : {}) };
}

/**
 * The identity of the cluster on the config's data volume; undefined when there is no volume, no
 * cluster yet, or a cluster made before the record existed (its next start records it).
 */
export async function readIdentity(config: ResolvedConfig, runner: Runner): Promise<ClusterIdentity | undefined> {
  const text = await readVolumeFile(config, runner, config.dataVolume, path.join(path.relative(CONTAINER.dataDir, CONTAINER.pgdata), CONTAINER.identityFile));
  return text === undefined ? undefined : parseIdentity(text);
}

/** Whether the pgBackRest repository on the backup volume is encrypted: its info files are then
 * OpenSSL's format, which begins "Salted__". Undefined when there is no repository yet. */
export async function readRepositoryEncrypted(config: ResolvedConfig, runner: Runner): Promise<boolean | undefined> {
  const file = path.join(path.relative(CONTAINER.backupDir, CONTAINER.pgbackrestRepo), 'archive', CONTAINER.stanza, 'archive.info');
  // A few hundred bytes, and the header is plain ASCII whatever follows.
  return (await readVolumeFile(config, runner, config.backupVolume, file))?.startsWith('Salted__');
}

/** A file on a volume, by its path inside it; undefined when the volume or the file is missing.
 * The files belong to the container's UID: a rootless user reads them through `podman unshare`. */
async function readVolumeFile(config: ResolvedConfig, runner: Runner, volume: string, relative: string): Promise<string | undefined> {
  const mountpoint = await new Podman(runner).volumeMountpoint(volume);
  if (mountpoint === undefined) return undefined;
  const file = path.join(mountpoint, relative);
  const result = config.rootless ? await runner.run('podman', ['unshare', 'cat', file]) : await runner.run('cat', [file]);
  return result.exitCode === 0 ? result.stdout : undefined;
}
