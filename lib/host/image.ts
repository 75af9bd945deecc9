/**
 * Host: the service's image. pg-quadlet builds a `localhost/` image itself from the `image/`
 * folder shipped in the package (install, `image build`, `update`); any other name is a registry's,
 * which Podman pulls at the first start.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ResolvedConfig } from '../core/config.js';
import type { Action } from './actions.js';
import type { Runner } from './runner.js';
import { runChecked } from './runner.js';

/** The `image/` folder of the package, found through its own export wherever the code runs from
 * (the sources, the compiled library, the CLI's bundle). */
export function shippedImageDir(): string {
  return path.dirname(createRequire(import.meta.url).resolve('pg-quadlet/image/Containerfile'));
}

/** Whether pg-quadlet builds the image (a `localhost/` name) rather than Podman pulling it. */
export function builtHere(image: string): boolean {
  return image.startsWith('localhost/');
}

export interface BuildOptions {
  /** The build context; default the package's `image/`. */
  readonly from?: string;
  /** Ask the registry for a newer base image (a local one is used when it cannot be reached). */
  readonly pull?: boolean;
  /** Build every layer again, so Debian's current packages are installed (an update). */
  readonly noCache?: boolean;
}

/** `podman build` for the config's image, as an action whose progress is each build step. */
export function buildAction(config: ResolvedConfig, options: BuildOptions = {}): Action {
  const context = options.from ?? shippedImageDir();
  return {
    kind: 'run',
    argv: [
      'podman', 'build',
      `--tag=${config.image}`,
      `--build-arg=BASE_IMAGE=${config.build.baseImage}`,
      `--build-arg=PG_MAJOR=${config.postgresVersion}`,
      `--build-arg=CERTGROUP_GID=${config.build.certGroupGid}`,
      // `newer`: a registry that cannot be reached is no failure while a local base image exists.
      ...(options.pull ? ['--pull=newer'] : []),
      ...(options.noCache ? ['--no-cache'] : []),
      `--file=${path.join(context, 'Containerfile')}`,
      context,
    ],
    note: 'minutes: Debian packages are downloaded and installed',
    // `[1/2] STEP 3/5: RUN ...` in a build of two stages.
    progress: /^(\[\d+\/\d+\] )?STEP \d+\/\d+:/,
  };
}

export async function imageId(runner: Runner, image: string): Promise<string | undefined> {
  const result = await runner.run('podman', ['image', 'inspect', '--format', '{{.Id}}', image]);
  return result.exitCode === 0 ? result.stdout.trim() || undefined : undefined;
}

/** The tag that keeps the image an update replaced: `localhost/postgres-debian:15-previous`. */
export function previousTag(image: string): string {
  return suffixedTag(image, 'previous');
}

/** The tag of an image an update rolled back from, kept to look into. */
export function failedTag(image: string): string {
  return suffixedTag(image, 'failed');
}

function suffixedTag(image: string, suffix: string): string {
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? `${image}-${suffix}` : `${image}:latest-${suffix}`;
}

export interface ImageVersions {
  readonly postgres: string;
  readonly pgbouncer: string;
  readonly pgbackrest: string;
}

/** The versions an image carries, asked of its own binaries in a container with no network. */
export async function imageVersions(runner: Runner, image: string): Promise<ImageVersions> {
  const output = await runChecked(runner, 'podman', [
    'run', '--rm', '--network=none', '--read-only', '--entrypoint=/bin/sh', image, '-c',
    'postgres --version; pgbouncer --version | head -n 1; pgbackrest version',
  ]);
  const [postgres = '', pgbouncer = '', pgbackrest = ''] = output.split('\n');
  // Debian's package version (`15.14-0+deb12u1`) tells a security update apart; PostgreSQL's own does not.
  const server = /\(Debian ([^)]+)\)/.exec(postgres)?.[1] ?? /\(PostgreSQL\) (\S+)/.exec(postgres)?.[1] ?? postgres.trim();
  const last = (line: string) => line.trim().split(/\s+/).at(-1) ?? '';
  return { postgres: server, pgbouncer: last(pgbouncer), pgbackrest: last(pgbackrest) };
}
