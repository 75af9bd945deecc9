/**
 * `update`: rebuilds the image with Debian's current packages (a newer base image when the
 * registry has one, every layer built again), keeps the image it replaces under a `-previous` tag,
 * restarts the running service onto the new one and waits until it is healthy. When it does not
 * become healthy, the previous image takes the tag back and the service restarts onto it: the data
 * volume was never touched by anything but a server of the same major version.
 */
import { PgQuadletError, RefusedError } from '../core/errors.js';
import { unitNames } from '../core/render.js';
import type { Context } from '../context.js';
import { describeAction, performAction, systemctl, type Action } from '../host/actions.js';
import { buildAction, failedTag, imageId, imageVersions, previousTag, type ImageVersions } from '../host/image.js';
import { Podman } from '../host/podman.js';
import { Systemctl } from '../host/systemctl.js';
import { refuseRegistryImage } from './image.js';

export interface UpdateOptions {
  /** Build from this directory instead of the package's `image/` (a customized image). */
  readonly from?: string;
  readonly dryRun?: boolean;
  readonly onProgress?: (line: string) => void;
}

export interface ImageState {
  readonly id: string;
  readonly versions: ImageVersions;
}

export interface UpdateResult {
  readonly image: string;
  readonly before: ImageState;
  /** The image built; absent in a dry run. */
  readonly built?: ImageState;
  /** The services restarted onto the new image (none when the service was stopped: it takes the
   * image at its next start). */
  readonly restarted: string[];
  /** Why the new image was given up, when it was: the service runs the previous one again. */
  readonly rolledBack?: { readonly reason: string; readonly keptAs: string };
  /** The tag that keeps the image replaced (for `podman tag` by hand). */
  readonly previous: string;
  readonly actions: string[];
  readonly seconds: number;
  readonly dryRun: boolean;
}

/** The update failed and so did the way back: the service is down. */
export class RollbackFailedError extends PgQuadletError {
  override readonly name = 'RollbackFailedError';
}

export async function update(context: Context, options: UpdateOptions = {}): Promise<UpdateResult> {
  const { config, runner } = context;
  refuseRegistryImage(config.image);
  const names = unitNames(config);
  const progress = options.onProgress ?? (() => {});
  const started = Date.now();
  const beforeId = await imageId(runner, config.image);
  if (beforeId === undefined) throw new RefusedError(`there is no image ${config.image} to update yet: pg-quadlet install builds it`);
  const before: ImageState = { id: beforeId, versions: await imageVersions(runner, beforeId) };
  const units = new Systemctl(runner, config.rootless);
  const running = (await units.show(names.service, ['ActiveState'])).ActiveState === 'active';
  const previous = previousTag(config.image);
  const olderPrevious = await imageId(runner, previous);

  const keep: Action = { kind: 'run', argv: ['podman', 'tag', config.image, previous] };
  const build = buildAction(config, { pull: true, noCache: true, ...(options.from ? { from: options.from } : {}) });
  const restart: Action = { kind: 'run', argv: systemctl(config.rootless, 'restart', names.service), note: 'waits until PostgreSQL is healthy' };
  const plan = [keep, build, ...(running ? [restart] : [])];
  const base = { image: config.image, before, previous, dryRun: options.dryRun ?? false };
  if (options.dryRun) return { ...base, restarted: [], actions: plan.map(describeAction), seconds: 0 };

  const actions: string[] = [];
  const perform = async (action: Action) => {
    await performAction(action, runner, { onProgress: progress });
    actions.push(describeAction(action));
  };
  await perform(keep);
  try {
    await perform(build);
  } catch (error) {
    if (olderPrevious) await runner.run('podman', ['tag', olderPrevious, previous]);
    throw new PgQuadletError('PG_QUADLET_COMMAND', `the build failed, nothing changed: ${config.name} still runs ${beforeId.slice(0, 12)} (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`, { cause: error });
  }
  const builtId = (await imageId(runner, config.image)) ?? '';
  const built: ImageState = { id: builtId, versions: await imageVersions(runner, builtId) };
  const done = (extra: Partial<UpdateResult>): UpdateResult => ({
    ...base, built, restarted: [], actions, seconds: Math.round((Date.now() - started) / 100) / 10, ...extra,
  });
  if (!running) return done({});

  const services = [names.service, ...(names.pool ? [names.pool] : [])];
  const failure = await restartHealthy(context, restart, perform, services);
  if (failure === undefined) {
    // The image an earlier update kept is no one's now; one in use by another container stays.
    if (olderPrevious && olderPrevious !== beforeId) await runner.run('podman', ['image', 'rm', olderPrevious]);
    return done({ restarted: services });
  }

  progress(`the new image did not become healthy (${failure}): rolling back to ${previous}`);
  const keptAs = failedTag(config.image);
  await perform({ kind: 'run', argv: ['podman', 'tag', config.image, keptAs] });
  await perform({ kind: 'run', argv: ['podman', 'tag', previous, config.image] });
  await perform({ kind: 'run', argv: systemctl(config.rootless, 'reset-failed', names.service) });
  const again = await restartHealthy(context, restart, perform, services);
  if (again !== undefined) {
    throw new RollbackFailedError(
      'PG_QUADLET_COMMAND',
      `the update failed (${failure}) and so did the restart on the previous image (${again}): ${names.service} is down. ` +
        `The previous image is ${previous}, the new one ${keptAs}; see journalctl${config.rootless ? ' --user' : ''} -u ${names.service} and docs/runbook.md ("An update that failed")`,
    );
  }
  return done({ restarted: services, rolledBack: { reason: failure, keptAs } });
}

/** Restarts the service (its pool follows) and says why it is not healthy after, if it is not. */
async function restartHealthy(context: Context, restart: Action, perform: (action: Action) => Promise<void>, services: readonly string[]): Promise<string | undefined> {
  const { config, runner } = context;
  try {
    await perform(restart);
  } catch (error) {
    return error instanceof Error ? error.message.split('\n')[0] : String(error);
  }
  const podman = new Podman(runner);
  const units = new Systemctl(runner, config.rootless);
  for (const service of services) {
    const container = service.replace(/\.service$/, '');
    // The pool restarts with the server (PartOf=); `systemctl restart` waited for the server only.
    const deadline = Date.now() + config.startTimeoutSec * 1000;
    for (;;) {
      const state = (await units.show(service, ['ActiveState'])).ActiveState;
      const health = await podman.health(container);
      if (state === 'active' && health === 'healthy') break;
      if (state === 'failed' || Date.now() > deadline) return `${service} is ${state}, its health ${health ?? 'unknown'}`;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  return undefined;
}

export function formatUpdate(result: UpdateResult): string {
  if (result.dryRun) return ['Would do (dry run, nothing changed):', ...result.actions.map((action) => `  - ${action}`)].join('\n');
  const versions = (state: ImageState) =>
    `PostgreSQL ${state.versions.postgres}, PgBouncer ${state.versions.pgbouncer}, pgBackRest ${state.versions.pgbackrest} (${state.id.slice(0, 12)})`;
  const lines = [`before: ${versions(result.before)}`];
  if (result.built) lines.push(`built:  ${versions(result.built)}`);
  if (result.rolledBack) {
    lines.push(
      `Rolled back: the new image did not become healthy (${result.rolledBack.reason}).`,
      `${result.restarted.join(' and ')} run the previous image again, healthy; the new one is kept as ${result.rolledBack.keptAs} to look into.`,
    );
  } else if (result.restarted.length > 0) {
    lines.push(`Updated in ${result.seconds} s: ${result.restarted.join(' and ')} run the new image, healthy. The previous one is kept as ${result.previous}.`);
  } else {
    lines.push(`Built in ${result.seconds} s; the service is stopped and takes the new image at its next start. The previous one is kept as ${result.previous}.`);
  }
  return lines.join('\n');
}
