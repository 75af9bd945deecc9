/**
 * `uninstall`: stops the service and the timer and removes the unit files pg-quadlet wrote.
 * Volumes (the data and the backups) and the secret stay unless `purge` is set, which asks first.
 */
import path from 'node:path';
import { NotConfirmedError } from '../core/errors.js';
import { unitFiles, unitNames } from '../core/render.js';
import type { Context } from '../context.js';
import { performPlan, systemctl, type Action } from '../host/actions.js';
import { Podman } from '../host/podman.js';
import { isGenerated, readIfExists, unitPath } from '../host/unit-files.js';
import { passwordFile } from './install.js';

export interface UninstallOptions {
  /** Also delete the data volume, the backup volume and the password secret. */
  readonly purge?: boolean;
  readonly dryRun?: boolean;
  /** Asked before a purge; without it a purge is refused (pass `yes` instead). */
  readonly confirm?: (question: string) => Promise<boolean>;
  /** Purge without asking (for scripts). */
  readonly yes?: boolean;
  readonly onProgress?: (line: string) => void;
}

export interface UninstallResult {
  readonly actions: string[];
  readonly removed: string[];
  /** Files at our paths that pg-quadlet did not write: left alone. */
  readonly kept: string[];
  /** The volumes and secret a later install finds again; empty after a purge. */
  readonly keptData: string[];
  /** A purge keeps the file holding the backup passphrase: an off-host copy outlives the purge,
   * and is unreadable without it. */
  readonly keptPassphrase?: string;
  readonly dryRun: boolean;
}

/** The stop of a unit that is not loaded (never installed, already removed) has nothing to do. */
const NOT_LOADED = /not loaded|not found|does not exist/i;

export async function uninstall(context: Context, options: UninstallOptions = {}): Promise<UninstallResult> {
  const { config, paths, runner } = context;
  const dryRun = options.dryRun ?? false;
  const names = unitNames(config);
  // Every timer a config can have, on or off now: an earlier install may have enabled it.
  const timers = [`${config.name}-backup.timer`, `${config.name}-backup-full.timer`];
  const plan: Action[] = [
    ...timers.map((timer): Action => ({ kind: 'run', argv: systemctl(config.rootless, 'disable', '--now', timer), nothingToDo: NOT_LOADED })),
    { kind: 'run', argv: systemctl(config.rootless, 'stop', names.service), nothingToDo: NOT_LOADED },
  ];
  const removed: string[] = [];
  const kept: string[] = [];
  for (const unit of unitFiles(config)) {
    const file = unitPath(unit, paths);
    const content = readIfExists(file);
    if (content === undefined) continue;
    if (isGenerated(content)) {
      plan.push({ kind: 'remove', path: file });
      removed.push(file);
    } else {
      kept.push(file);
    }
  }
  if (removed.length > 0) plan.push({ kind: 'run', argv: systemctl(config.rootless, 'daemon-reload') });

  const data = [`volume ${config.dataVolume} (the data)`, `volume ${config.backupVolume} (the backups)`, `secret ${config.passwordSecret}`];
  if (options.purge) {
    if (!dryRun && !options.yes && !(await options.confirm?.(`Delete the volumes ${config.dataVolume} (all data) and ${config.backupVolume} (all backups), and the secret ${config.passwordSecret}?`))) {
      throw new NotConfirmedError('purged');
    }
    plan.push(...(await purgeActions(context)));
  }
  const actions = await performPlan(plan, runner, { dryRun, ...(options.onProgress ? { onProgress: options.onProgress } : {}) });
  const passphrase = path.join(paths.stateDir, `${config.backup.passphraseSecret}.passphrase`);
  const keptPassphrase = options.purge && readIfExists(passphrase) !== undefined ? { keptPassphrase: passphrase } : {};
  return { actions, removed, kept, keptData: options.purge ? [] : data, ...keptPassphrase, dryRun };
}

async function purgeActions({ config, paths, runner }: Context): Promise<Action[]> {
  const podman = new Podman(runner);
  const plan: Action[] = [];
  for (const [volume, holds] of [[config.dataVolume, 'the data'], [config.backupVolume, 'the backups']] as const) {
    if (await podman.volumeExists(volume)) plan.push({ kind: 'run', argv: ['podman', 'volume', 'rm', volume], note: holds });
  }
  for (const secret of [config.passwordSecret, config.backup.passphraseSecret, ...(config.backup.s3 ? [config.backup.s3.keysSecret] : [])]) {
    if (await podman.secretExists(secret)) plan.push({ kind: 'run', argv: ['podman', 'secret', 'rm', secret] });
  }
  const file = passwordFile(config, paths.stateDir);
  if (readIfExists(file) !== undefined) plan.push({ kind: 'remove', path: file });
  return plan;
}

export function formatUninstall(result: UninstallResult): string {
  const lines = [result.dryRun ? 'Would do (dry run, nothing changed):' : 'Done:', ...result.actions.map((action) => `  - ${action}`)];
  for (const file of result.kept) lines.push(`Kept ${file}: pg-quadlet did not generate it.`);
  if (result.keptData.length > 0) lines.push(`Kept the ${result.keptData.join(', ')}: a later install finds the data again.`);
  if (result.keptPassphrase) {
    lines.push(`Kept ${result.keptPassphrase}: the passphrase of the encrypted backups, which an off-host copy still needs. Delete it once those backups are gone.`);
  }
  return lines.join('\n');
}
