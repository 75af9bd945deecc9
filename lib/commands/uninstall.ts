/**
 * `uninstall`: stops the service and the timer and removes the unit files pg-quadlet wrote.
 * Volumes (the data and the backups) and the secret stay unless `purge` is set.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { PostgresServiceConfig } from '../config.js';
import type { InstallPaths } from '../install-paths.js';
import { Podman } from '../podman.js';
import { renderUnits } from '../render.js';
import type { Runner } from '../runner.js';
import { Systemctl } from '../systemctl.js';
import { isGenerated, readIfExists, unitPath } from '../unit-files.js';

export interface UninstallOptions {
  readonly config: PostgresServiceConfig;
  readonly paths: InstallPaths;
  readonly runner: Runner;
  /** Also delete the data volume, the backup volume and the password secret. */
  readonly purge?: boolean;
  readonly dryRun?: boolean;
}

export interface UninstallResult {
  readonly actions: string[];
  readonly removed: string[];
  /** Files at our paths that pg-quadlet did not write: left alone. */
  readonly kept: string[];
  readonly dryRun: boolean;
}

export async function uninstall(options: UninstallOptions): Promise<UninstallResult> {
  const { config, paths, runner, dryRun = false } = options;
  const systemctl = new Systemctl(runner, config.rootless);
  const podman = new Podman(runner);
  const user = config.rootless ? ' --user' : '';
  const actions: string[] = [];
  const act = async (description: string, run: () => Promise<unknown> | unknown) => {
    actions.push(description);
    if (!dryRun) await run();
  };

  const timer = `${config.name}-backup.timer`;
  const service = `${config.name}.service`;
  await act(`systemctl${user} disable --now ${timer}`, () => systemctl.disableNow(timer));
  await act(`systemctl${user} stop ${service}`, () => systemctl.stop(service));

  const removed: string[] = [];
  const kept: string[] = [];
  for (const unit of renderUnits(config)) {
    const file = unitPath(unit, paths);
    const content = readIfExists(file);
    if (content === undefined) continue;
    if (!isGenerated(content)) {
      kept.push(file);
      continue;
    }
    await act(`remove ${file}`, () => rmSync(file));
    removed.push(file);
  }
  if (removed.length > 0) await act(`systemctl${user} daemon-reload`, () => systemctl.daemonReload());

  if (options.purge) {
    await act(`podman volume rm ${config.dataVolume} (the data)`, () => podman.removeVolume(config.dataVolume));
    await act(`podman volume rm ${config.backupVolume} (the backups)`, () => podman.removeVolume(config.backupVolume));
    await act(`podman secret rm ${config.passwordSecret}`, () => podman.removeSecret(config.passwordSecret));
    const passwordFile = path.join(paths.stateDir, `${config.passwordSecret}.password`);
    if (readIfExists(passwordFile) !== undefined) await act(`remove ${passwordFile}`, () => rmSync(passwordFile));
  }
  return { actions, removed, kept, dryRun };
}
