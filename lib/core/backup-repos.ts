/**
 * Core: what the PostgreSQL container needs for pgBackRest's repositories beyond the backup
 * volume: the settings of the off-host one (repo2) and of encryption, the secrets holding their
 * keys, and the CA file to trust. The service's unit and the one-shot restore container both
 * take it from here, so a restore reads the repositories exactly as the service writes them.
 */
import type { ResolvedConfig } from './config.js';
import { CONTAINER, ENV } from './container-contract.js';

export interface RepositorySetup {
  readonly environment: Readonly<Record<string, string>>;
  /** Podman secrets, mounted as files readable by the container's user only. */
  readonly secrets: readonly { readonly name: string; readonly target: string }[];
  /** `HOST:CONTAINER:ro` bind mounts. */
  readonly mounts: readonly string[];
}

export function repositorySetup(config: ResolvedConfig): RepositorySetup {
  const { encrypt, passphraseSecret, s3 } = config.backup;
  const environment: Record<string, string> = {};
  const secrets: { name: string; target: string }[] = [];
  const mounts: string[] = [];
  if (encrypt) {
    environment[ENV.backupEncrypt] = 'aes-256-cbc';
    environment[ENV.backupPassphraseFile] = CONTAINER.backupPassphraseFile;
    secrets.push({ name: passphraseSecret, target: CONTAINER.backupPassphraseFile });
  }
  if (s3) {
    Object.assign(environment, {
      [ENV.repo2Type]: 's3',
      [ENV.repo2Endpoint]: s3.endpoint,
      [ENV.repo2Bucket]: s3.bucket,
      [ENV.repo2Region]: s3.region,
      [ENV.repo2Path]: s3.path,
      [ENV.repo2UriStyle]: s3.uriStyle,
      [ENV.s3KeysFile]: CONTAINER.s3KeysFile,
      ...(s3.port === undefined ? {} : { [ENV.repo2Port]: String(s3.port) }),
      ...(s3.caFile === undefined ? {} : { [ENV.repo2CaFile]: CONTAINER.s3CaFile }),
    });
    secrets.push({ name: s3.keysSecret, target: CONTAINER.s3KeysFile });
    if (s3.caFile !== undefined) mounts.push(`${s3.caFile}:${CONTAINER.s3CaFile}:ro`);
  }
  return { environment, secrets, mounts };
}

/** A secret as Podman's `--secret` and Quadlet's `Secret=` take it: a file only the container's
 * user reads. `target` is a path under /run/secrets. */
export function secretOption(secret: { readonly name: string; readonly target: string }): string {
  const target = secret.target.replace(/^\/run\/secrets\//, '');
  return `${secret.name},type=mount,target=${target},uid=${CONTAINER.uid},gid=${CONTAINER.uid},mode=0400`;
}
