/**
 * `image build`: builds the service's image from the `image/` folder shipped in the package, as
 * install does when the image is missing; here on request, e.g. before an install with
 * `--no-build`, or with `pull` for a newer base image.
 */
import { RefusedError } from '../core/errors.js';
import type { Context } from '../context.js';
import { performPlan } from '../host/actions.js';
import { buildAction, builtHere, imageId, type BuildOptions } from '../host/image.js';

export interface ImageBuildOptions extends BuildOptions {
  readonly dryRun?: boolean;
  readonly onProgress?: (line: string) => void;
}

export interface ImageBuildResult {
  readonly image: string;
  /** The image's ID before and after the build (undefined: there was none, or a dry run). */
  readonly before?: string;
  readonly after?: string;
  readonly actions: string[];
  readonly seconds: number;
  readonly dryRun: boolean;
}

export async function imageBuild(context: Context, options: ImageBuildOptions = {}): Promise<ImageBuildResult> {
  const { config, runner } = context;
  refuseRegistryImage(config.image);
  const dryRun = options.dryRun ?? false;
  const before = await imageId(runner, config.image);
  const started = Date.now();
  const { dryRun: _dryRun, onProgress, ...build } = options;
  const actions = await performPlan([buildAction(config, build)], runner, { dryRun, ...(onProgress ? { onProgress } : {}) });
  const after = dryRun ? undefined : await imageId(runner, config.image);
  return {
    image: config.image,
    ...(before ? { before } : {}),
    ...(after ? { after } : {}),
    actions,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    dryRun,
  };
}

/** pg-quadlet builds `localhost/` images only: another name is a registry's to build and Podman's to pull. */
export function refuseRegistryImage(image: string): void {
  if (!builtHere(image)) {
    throw new RefusedError(`image: ${image} is a registry's image, which pg-quadlet does not build: pull it with podman pull ${image}, or set image to a localhost/ name`);
  }
}

export function formatImageBuild(result: ImageBuildResult): string {
  if (result.dryRun) return ['Would do (dry run, nothing changed):', ...result.actions.map((action) => `  - ${action}`)].join('\n');
  const id = (value: string | undefined) => (value ? value.slice(0, 12) : 'none');
  const changed = result.before === result.after ? 'unchanged' : `${id(result.before)} -> ${id(result.after)}`;
  return `Built ${result.image} in ${result.seconds} s (${changed}).`;
}
