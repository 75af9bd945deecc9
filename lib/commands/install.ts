/**
 * `install`: puts the units where Quadlet and systemd read them, creates the password secret
 * when missing, reloads systemd and enables the backup timer; optionally starts the service.
 * Re-running with the same config changes nothing. `dryRun` reports every action and does none.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PostgresServiceConfig } from '../config.js';
import { writeFileAtomic } from '../atomic-file.js';
import type { InstallPaths } from '../install-paths.js';
import { Podman } from '../podman.js';
import { renderUnits } from '../render.js';
import type { Runner } from '../runner.js';
import { Systemctl } from '../systemctl.js';
import { applyFiles, planFiles, type FileChange } from '../unit-files.js';

export type PasswordSource =
  /** Given by the caller (the CLI reads it from --password-file or standard input). */
  | { readonly kind: 'value'; readonly value: string }
  /** Generate a strong one, keep it in a file only its owner can read, and show it once. */
  | { readonly kind: 'generate' };

export interface InstallOptions {
  readonly config: PostgresServiceConfig;
  readonly paths: InstallPaths;
  readonly runner: Runner;
  readonly password?: PasswordSource;
  readonly dryRun?: boolean;
  /** Replace files there that pg-quadlet did not generate. */
  readonly force?: boolean;
  /** Start the service and wait until it is healthy. */
  readonly now?: boolean;
  /** Told of each step as it happens (progress for long work). */
  readonly onProgress?: (line: string) => void;
  /** The environment to look for the user's D-Bus in (rootless). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Test hook: make the file writing fail after this many files. */
  readonly failAfterFiles?: number;
}

export interface InstallResult {
  readonly files: ReadonlyArray<Pick<FileChange, 'path' | 'status' | 'diff'>>;
  /** Every action, done or (with dryRun) that would be done, in order. */
  readonly actions: string[];
  readonly secret: 'exists' | 'created' | 'generated';
  /** Where a generated password was stored, and the password itself, shown once. */
  readonly generatedPassword?: { readonly file: string; readonly value: string };
  readonly changed: boolean;
  readonly warnings: string[];
  readonly dryRun: boolean;
}

export class InstallError extends Error {
  override readonly name = 'InstallError';
}

export async function install(options: InstallOptions): Promise<InstallResult> {
  const { config, paths, runner, dryRun = false } = options;
  const progress = options.onProgress ?? (() => {});
  const systemctl = new Systemctl(runner, config.rootless);
  const podman = new Podman(runner);
  const actions: string[] = [];
  const warnings: string[] = [];
  const act = async (description: string, run: () => Promise<unknown> | unknown) => {
    actions.push(description);
    if (dryRun) return;
    progress(description);
    await run();
  };

  const changes = planFiles(renderUnits(config), paths);
  const foreign = changes.filter((change) => change.status === 'foreign');
  if (foreign.length > 0 && !options.force) {
    throw new InstallError(
      `refusing to overwrite file(s) pg-quadlet did not generate: ${foreign.map((change) => change.path).join(', ')} ` +
        '(move them away, or pass --force to replace them)',
    );
  }
  // Asked before anything is written, so a host without podman is refused with nothing changed.
  const secretExists = await podman.secretExists(config.passwordSecret);
  const toWrite = changes.filter((change) => change.status !== 'unchanged');
  if (toWrite.length > 0) {
    await act(`write ${toWrite.map((change) => change.path).join(', ')}`, () => applyFiles(changes, options.failAfterFiles));
  }

  let secret: InstallResult['secret'] = 'exists';
  let generatedPassword: InstallResult['generatedPassword'];
  if (!secretExists) {
    const source = options.password ?? { kind: 'generate' };
    if (source.kind === 'generate') {
      const value = randomBytes(24).toString('base64url');
      const file = path.join(paths.stateDir, `${config.passwordSecret}.password`);
      secret = 'generated';
      await act(`store a generated password in ${file} (mode 0600)`, () => writeFileAtomic(file, `${value}\n`, 0o600));
      await act(`podman secret create ${config.passwordSecret} - (password on standard input)`, () =>
        podman.createSecret(config.passwordSecret, value),
      );
      if (!dryRun) generatedPassword = { file, value };
    } else {
      secret = 'created';
      await act(`podman secret create ${config.passwordSecret} - (password on standard input)`, () =>
        podman.createSecret(config.passwordSecret, source.value),
      );
    }
  }

  // Also when nothing changed but systemd never loaded the service: an earlier install wrote the
  // files and failed before it reloaded.
  const service = `${config.name}.service`;
  const loaded = (await systemctl.show(service, ['LoadState'])).LoadState === 'loaded';
  if (toWrite.length > 0 || !loaded) await act(`systemctl${scope(config)} daemon-reload`, () => systemctl.daemonReload());
  const timer = `${config.name}-backup.timer`;
  if (config.backup.enabled && !(await systemctl.isEnabled(timer))) {
    await act(`systemctl${scope(config)} enable --now ${timer}`, () => systemctl.enableNow(timer));
  }
  if (options.now) {
    await act(`systemctl${scope(config)} start ${service} (waits until PostgreSQL is healthy)`, () =>
      withHeartbeat(progress, `waiting for ${service} to become healthy`, () => systemctl.start(service)),
    );
    if (config.pool.enabled) {
      const pool = `${config.name}-pool.service`;
      await act(`systemctl${scope(config)} start ${pool} (waits until PgBouncer is healthy)`, () =>
        withHeartbeat(progress, `waiting for ${pool} to become healthy`, () => systemctl.start(pool)),
      );
    }
  } else if (changes.some((change) => change.status !== 'unchanged' && change.unit.target === 'quadlet')) {
    warnings.push(`if ${config.name}.service is running, apply the change with: systemctl${scope(config)} restart ${config.name}.service`);
  }
  if (config.rootless) warnings.push(...(await lingerWarnings(runner)), ...userBusWarnings(options.env ?? process.env));

  return {
    files: changes.map(({ path: file, status, diff }) => ({ path: file, status, ...(diff === undefined ? {} : { diff }) })),
    actions,
    secret,
    ...(generatedPassword ? { generatedPassword } : {}),
    changed: actions.length > 0,
    warnings,
    dryRun,
  };
}

function scope(config: PostgresServiceConfig): string {
  return config.rootless ? ' --user' : '';
}

/** Reports every few seconds while a long step runs, so a first start's initialization does not
 * look like a hang. */
async function withHeartbeat<T>(progress: (line: string) => void, what: string, run: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const timer = setInterval(() => progress(`${what} (${Math.round((Date.now() - started) / 1000)} s)`), 5000);
  try {
    return await run();
  } finally {
    clearInterval(timer);
  }
}

/** Without a user D-Bus (Debian's dbus-user-session), systemctl --user can miss a service's
 * readiness and hang until the start timeout. */
function userBusWarnings(env: Readonly<Record<string, string | undefined>>): string[] {
  const runtime = env.XDG_RUNTIME_DIR ?? `/run/user/${process.getuid?.() ?? ''}`;
  if (existsSync(path.join(runtime, 'bus'))) return [];
  return [`there is no user D-Bus at ${runtime}/bus: install dbus-user-session (and log in again), or systemctl --user may hang waiting for the service to report ready`];
}

/** A user's services stop when their last session ends, unless lingering is enabled. */
async function lingerWarnings(runner: Runner): Promise<string[]> {
  const user = os.userInfo().username;
  const result = await runner.run('loginctl', ['show-user', user, '--property=Linger', '--value']);
  if (result.exitCode === 0 && result.stdout.trim() === 'yes') return [];
  return [
    `lingering is off for ${user}: the service stops when ${user} logs out and does not start at boot. Enable it with: sudo loginctl enable-linger ${user}`,
  ];
}
