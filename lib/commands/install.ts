/**
 * `install`: puts the units where Quadlet and systemd read them, creates the password secret when
 * missing, reloads systemd and enables the backup timer; with `now`, starts the service, or
 * restarts what runs on units that changed. Re-running with the same config changes nothing. The
 * plan is made first from what the host says, then carried out or (dry run) only described.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ResolvedConfig } from '../core/config.js';
import { RefusedError } from '../core/errors.js';
import { renderResolved, unitNames } from '../core/render.js';
import { renderOptions, type Context } from '../context.js';
import { describeAction, performPlan, systemctl, type Action } from '../host/actions.js';
import { buildAction, builtHere, imageId } from '../host/image.js';
import { readIdentity, readRepositoryEncrypted } from '../host/cluster.js';
import { Podman } from '../host/podman.js';
import { isNotFound, type CommandError, type Runner } from '../host/runner.js';
import { staleServices, Systemctl } from '../host/systemctl.js';
import { planFiles, type FileChange } from '../host/unit-files.js';

export type PasswordSource =
  /** Given by the caller (the CLI reads it from --password-file or standard input). */
  | { readonly kind: 'value'; readonly value: string }
  /** Generate a strong one, keep it in a file only its owner can read, and show it once. */
  | { readonly kind: 'generate' };

export interface InstallOptions {
  /** For a secret that does not exist yet; generated when not given. */
  readonly password?: PasswordSource;
  /** Describe every action and change nothing. */
  readonly dryRun?: boolean;
  /** Replace files pg-quadlet did not generate, and accept a database or role the cluster was
   * not made for (after renaming them in the cluster). */
  readonly force?: boolean;
  /** Start the service and wait until it is healthy; restart what runs on changed units. */
  readonly now?: boolean;
  /** Build a missing `localhost/` image from the package's `image/` (default); false refuses
   * instead, naming the command that builds it. */
  readonly build?: boolean;
  /** Told of each step as it happens. */
  readonly onProgress?: (line: string) => void;
  /** Test hook: make the file writing fail after this many files. */
  readonly failAfterFiles?: number;
}

export interface InstallResult {
  readonly files: ReadonlyArray<Pick<FileChange, 'path' | 'status' | 'diff'>>;
  /** Every action, done or (dry run) to be done, in order. */
  readonly actions: string[];
  readonly secret: 'exists' | 'created' | 'generated';
  /** Where a generated password was stored, and the password itself, shown once. */
  readonly generatedPassword?: { readonly file: string; readonly value: string };
  /** The backup passphrase generated for `backup.encrypt`, stored and shown the same way. */
  readonly generatedPassphrase?: { readonly file: string; readonly value: string };
  /** Running units whose files changed: restarted with `now`, else still on their old units. */
  readonly stale: string[];
  readonly restarted: string[];
  readonly changed: boolean;
  readonly warnings: string[];
  readonly dryRun: boolean;
}

export async function install(context: Context, options: InstallOptions = {}): Promise<InstallResult> {
  const { config, paths, runner } = context;
  const dryRun = options.dryRun ?? false;
  const names = unitNames(config);
  const warnings: string[] = [];
  const changes = planFiles(renderResolved(config, renderOptions(context)), paths);
  const toWrite = changes.filter((change) => change.status !== 'unchanged');

  refuseForeignFiles(changes, options.force ?? false);
  const host = await inspectHost(context, names, dryRun, warnings);
  if (host.podman && !options.force) await refuseIdentityChange(config, runner);
  if (host.podman) await refuseEncryptionChange(config, runner);
  await checkTimersOnHost(changes, runner);

  // The build comes first: when it fails, nothing else has been done.
  const plan: Action[] = host.podman ? await imagePlan(context, options.build ?? true, warnings) : [];
  if (toWrite.length > 0) plan.push({ kind: 'write-units', changes, ...(options.failAfterFiles === undefined ? {} : { failAfter: options.failAfterFiles }) });
  const secret: NewSecret = host.secretExists ? { kind: 'exists', actions: [] } : newSecret(config, options.password ?? { kind: 'generate' }, paths.stateDir);
  plan.push(...secret.actions);
  const backupSecrets = await newBackupSecrets(context, host.podman, dryRun, warnings);
  plan.push(...backupSecrets.actions);
  // Also when nothing changed but systemd never loaded the service: an earlier install wrote the
  // files and failed before it reloaded.
  if (toWrite.length > 0 || !host.loaded) plan.push({ kind: 'run', argv: systemctl(config.rootless, 'daemon-reload') });
  for (const timer of host.timersToEnable) plan.push({ kind: 'run', argv: systemctl(config.rootless, 'enable', '--now', timer) });

  const changedNow = staleUnits(config, toWrite, host.active);
  const stale = [names.service, names.pool].filter((unit): unit is string => unit !== undefined && (changedNow.includes(unit) || host.stale.includes(unit)));
  const restarted: string[] = [];
  if (options.now) {
    for (const step of startOrRestart(config, names, host.active, stale)) {
      plan.push(step.action);
      if (step.restarts) restarted.push(...step.restarts);
    }
  } else if (stale.length > 0) {
    warnings.push(
      `${stale.join(' and ')} ${stale.length === 1 ? 'runs' : 'run'} on the units as they were: apply the change with pg-quadlet install --now, or systemctl${config.rootless ? ' --user' : ''} restart ${names.service}`,
    );
  }
  if (config.rootless) warnings.push(...(await lingerWarnings(runner)), ...userBusWarnings(context.env));

  const actions = await performPlan(plan, runner, { dryRun, ...(options.onProgress ? { onProgress: options.onProgress } : {}) });
  return {
    files: changes.map(({ path: file, status, diff }) => ({ path: file, status, ...(diff === undefined ? {} : { diff }) })),
    actions,
    secret: secret.kind,
    ...(secret.kind === 'generated' && !dryRun ? { generatedPassword: { file: secret.file, value: secret.value } } : {}),
    ...(backupSecrets.passphrase && !dryRun ? { generatedPassphrase: backupSecrets.passphrase } : {}),
    stale,
    restarted: dryRun ? [] : restarted,
    changed: actions.length > 0,
    warnings,
    dryRun,
  };
}

/** A missing image is built (a `localhost/` one) or left to Podman to pull at the first start. */
async function imagePlan(context: Context, build: boolean, warnings: string[]): Promise<Action[]> {
  const { config, runner } = context;
  if ((await imageId(runner, config.image)) !== undefined) return [];
  if (!builtHere(config.image)) {
    warnings.push(`the image ${config.image} is not on this host: Podman pulls it at the first start`);
    return [];
  }
  const action = buildAction(config);
  if (!build) {
    throw new RefusedError(`the image ${config.image} does not exist and --no-build was given: build it with pg-quadlet image build (${describeAction(action)}); nothing was written`);
  }
  return [action];
}

function refuseForeignFiles(changes: readonly FileChange[], force: boolean): void {
  const foreign = changes.filter((change) => change.status === 'foreign');
  if (foreign.length > 0 && !force) {
    throw new RefusedError(
      `refusing to overwrite file(s) pg-quadlet did not generate: ${foreign.map((change) => change.path).join(', ')} ` +
        '(move them away, or pass --force to replace them)',
    );
  }
}

/** systemctl's words when there is no systemd to ask (a container, a chroot, no user session). */
const NO_MANAGER = /Failed to connect to bus|System has not been booted with systemd|Host is down/;

interface HostState {
  /** Whether podman answers; a dry run goes on without it, saying so. */
  readonly podman: boolean;
  readonly secretExists: boolean;
  readonly loaded: boolean;
  /** The backup timers the config has that are not enabled yet. */
  readonly timersToEnable: readonly string[];
  /** The service units that run now. */
  readonly active: ReadonlySet<string>;
  /** Of those, the ones already on older units than their files (an install without --now). */
  readonly stale: readonly string[];
}

/** Asked before anything is written, so a host without podman or systemd is refused with nothing
 * changed; a dry run shows its plan there all the same. */
async function inspectHost(context: Context, names: ReturnType<typeof unitNames>, dryRun: boolean, warnings: string[]): Promise<HostState> {
  const { config, runner } = context;
  const missing = (tool: string, error: unknown): false => {
    const absent = isNotFound(error) ? 'is not installed here' : NO_MANAGER.test(String((error as CommandError).result?.stderr)) ? 'cannot reach its service manager here' : undefined;
    if (absent === undefined) throw error;
    if (!dryRun) throw new RefusedError(`${tool} ${absent}: pg-quadlet needs Podman 4.6 or newer and a running systemd (Debian: apt install podman)`, { cause: error });
    warnings.push(`${tool} ${absent}: the plan assumes a host without pg-quadlet's units, secret or timer, and install itself would stop before changing anything`);
    return false;
  };
  let podman = true;
  let secretExists = false;
  try {
    secretExists = await new Podman(runner).secretExists(config.passwordSecret);
  } catch (error) {
    podman = missing('podman', error);
  }
  const units = new Systemctl(runner, config.rootless);
  const state = await units.show(names.service, ['LoadState']).catch((error: unknown) => missing('systemctl', error));
  if (state === false) return { podman, secretExists: false, loaded: false, timersToEnable: timers(names), active: new Set(), stale: [] };
  const active = new Set<string>();
  for (const unit of [names.service, ...(names.pool ? [names.pool] : [])]) {
    if ((await units.show(unit, ['ActiveState'])).ActiveState === 'active') active.add(unit);
  }
  return {
    podman,
    secretExists,
    loaded: state.LoadState === 'loaded',
    timersToEnable: await filterAsync(timers(names), async (timer) => !(await units.isEnabled(timer))),
    active,
    stale: await staleServices(units, context.paths.quadletDir, [...active]),
  };
}

function timers(names: ReturnType<typeof unitNames>): string[] {
  return [names.backupTimer, names.fullBackupTimer, names.verifyTimer, names.updateTimer].filter((timer): timer is string => timer !== undefined);
}

async function filterAsync<T>(items: readonly T[], keep: (item: T) => Promise<boolean>): Promise<T[]> {
  const kept: T[] = [];
  for (const item of items) if (await keep(item)) kept.push(item);
  return kept;
}

/** The cluster on the data volume answers to the database and role it was made for: a config
 * naming others would keep the server from ever becoming healthy. */
async function refuseIdentityChange(config: ResolvedConfig, runner: Runner): Promise<void> {
  const identity = await readIdentity(config, runner);
  if (!identity) return;
  const differs = [
    identity.database !== undefined && identity.database !== config.database ? `database "${config.database}" (the cluster's is "${identity.database}")` : '',
    identity.user !== undefined && identity.user !== config.user ? `user "${config.user}" (the cluster's is "${identity.user}")` : '',
  ].filter(Boolean);
  if (differs.length === 0) return;
  throw new RefusedError(
    `the data volume ${config.dataVolume} holds a cluster made for database "${identity.database}" owned by "${identity.user}", and the config sets ${differs.join(' and ')}: ` +
      'the server would refuse to start. Set database and user back; or rename them in the cluster first ' +
      `(ALTER DATABASE ${identity.database} RENAME TO ${config.database}; ALTER ROLE ${identity.user} RENAME TO ${config.user}) and install again with --force; ` +
      'or keep them and add a second database through initScripts on a new service',
  );
}

/** systemd itself reads each new `OnCalendar=` value before the timer is written: a schedule it
 * would refuse never becomes a timer that waits for nothing. */
async function checkTimersOnHost(changes: readonly FileChange[], runner: Runner): Promise<void> {
  for (const change of changes) {
    if (change.status === 'unchanged' || !change.unit.fileName.endsWith('.timer')) continue;
    for (const line of change.unit.content.split('\n').filter((text) => text.startsWith('OnCalendar='))) {
      const expression = line.slice('OnCalendar='.length);
      const result = await runner.run('systemd-analyze', ['calendar', '--iterations=1', expression]).catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
      if (result && result.exitCode !== 0) {
        const reason = (result.stderr || result.stdout).trim().split('\n').at(-1) ?? '';
        throw new RefusedError(`backup.schedule: systemd refuses the calendar expression "${expression}" (${reason}): give 5-field cron such as "0 2 * * *" or a systemd calendar expression; nothing was written`);
      }
    }
  }
}

type NewSecret =
  | { readonly kind: 'exists' | 'created'; readonly actions: Action[] }
  | { readonly kind: 'generated'; readonly actions: Action[]; readonly file: string; readonly value: string };

function newSecret(config: ResolvedConfig, source: PasswordSource, stateDir: string): NewSecret {
  const create = (value: string): Action => ({ kind: 'run', argv: ['podman', 'secret', 'create', config.passwordSecret, '-'], input: value, inputIs: 'the password' });
  if (source.kind === 'value') return { kind: 'created', actions: [create(source.value)] };
  const value = generatePassword();
  const file = passwordFile(config, stateDir);
  return {
    kind: 'generated',
    file,
    value,
    actions: [{ kind: 'write-private', path: file, content: `${value}\n`, what: 'a generated password' }, create(value)],
  };
}

/**
 * The secrets the backup settings need and Podman lacks: the passphrase of `backup.encrypt`
 * (generated, kept like a generated password, shown once) and the keys of `backup.s3` (from
 * `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` in install's environment: keys cannot be made up).
 */
async function newBackupSecrets(
  context: Context,
  podmanAnswers: boolean,
  dryRun: boolean,
  warnings: string[],
): Promise<{ actions: Action[]; passphrase?: { file: string; value: string } }> {
  const { config, runner, paths, env } = context;
  const podman = new Podman(runner);
  const missing = async (name: string) => !podmanAnswers || !(await podman.secretExists(name));
  const actions: Action[] = [];
  let passphrase: { file: string; value: string } | undefined;
  if (config.backup.encrypt && (await missing(config.backup.passphraseSecret))) {
    const value = randomBytes(48).toString('base64url');
    const file = path.join(paths.stateDir, `${config.backup.passphraseSecret}.passphrase`);
    passphrase = { file, value };
    actions.push(
      { kind: 'write-private', path: file, content: `${value}\n`, what: 'a generated backup passphrase' },
      { kind: 'run', argv: ['podman', 'secret', 'create', config.backup.passphraseSecret, '-'], input: value, inputIs: 'the backup passphrase' },
    );
  }
  const s3 = config.backup.s3;
  if (s3 && (await missing(s3.keysSecret))) {
    const key = env.AWS_ACCESS_KEY_ID?.trim();
    const secret = env.AWS_SECRET_ACCESS_KEY?.trim();
    const keyless = `backup.s3: the Podman secret ${s3.keysSecret} with the S3 keys does not exist: give them to install as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in its environment, or create it (printf '%s\\n%s\\n' KEY_ID SECRET_KEY | podman secret create ${s3.keysSecret} -)`;
    if (!key || !secret || /\s/.test(key + secret)) {
      if (!dryRun) throw new RefusedError(`${keyless}; nothing was written`);
      warnings.push(keyless);
    } else {
      actions.push({ kind: 'run', argv: ['podman', 'secret', 'create', s3.keysSecret, '-'], input: `${key}\n${secret}\n`, inputIs: 'the S3 keys' });
    }
  }
  return { actions, ...(passphrase ? { passphrase } : {}) };
}

/** pgBackRest cannot encrypt a repository that holds backups, nor read an encrypted one without
 * its passphrase: a config that disagrees with the backup volume would stop the server's start. */
async function refuseEncryptionChange(config: ResolvedConfig, runner: Runner): Promise<void> {
  const encrypted = await readRepositoryEncrypted(config, runner);
  if (encrypted === undefined || encrypted === config.backup.encrypt) return;
  throw new RefusedError(
    encrypted
      ? `backup.encrypt: the repository on ${config.backupVolume} is encrypted: set backup.encrypt = true with its passphrase secret ${config.backup.passphraseSecret}; nothing was written`
      : `backup.encrypt: the repository on ${config.backupVolume} holds unencrypted backups, and pgBackRest cannot encrypt a repository that holds backups: ` +
          'leave backup.encrypt off, or move the repository aside (docs/pgbackrest.md, "Turning encryption on") and install again; nothing was written',
  );
}

/** 24 random bytes, base64url: 32 characters that need no quoting anywhere. */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

/** Where a generated password is kept for its owner. */
export function passwordFile(config: ResolvedConfig, stateDir: string): string {
  return path.join(stateDir, `${config.passwordSecret}.password`);
}

/** The container units among the changed files whose service runs now. */
function staleUnits(config: ResolvedConfig, written: readonly FileChange[], active: ReadonlySet<string>): string[] {
  const names = unitNames(config);
  const changed = new Set(written.map((change) => change.unit.unitName));
  // The network is made when a container starts: a container on a changed network is stale too.
  const networkChanged = names.network !== undefined && changed.has(names.network);
  return [names.service, ...(names.pool ? [names.pool] : [])].filter((unit) => active.has(unit) && (changed.has(unit) || networkChanged));
}

/** With `now`: start what is stopped, restart what is stale. Restarting PostgreSQL restarts its
 * pool too (PartOf=), so the pool is restarted on its own only when it alone changed. */
function startOrRestart(
  config: ResolvedConfig,
  names: ReturnType<typeof unitNames>,
  active: ReadonlySet<string>,
  stale: readonly string[],
): Array<{ action: Action; restarts?: string[] }> {
  const steps: Array<{ action: Action; restarts?: string[] }> = [];
  const verb = (unit: string) => (stale.includes(unit) ? 'restart' : active.has(unit) ? undefined : 'start');
  const server = verb(names.service);
  if (server) {
    steps.push({
      action: { kind: 'run', argv: systemctl(config.rootless, server, names.service), note: 'waits until PostgreSQL is healthy' },
      ...(server === 'restart' ? { restarts: [names.service, ...(names.pool && active.has(names.pool) ? [names.pool] : [])] } : {}),
    });
  }
  if (names.pool && !(server === 'restart' && active.has(names.pool))) {
    const pool = verb(names.pool);
    if (pool) {
      steps.push({
        action: { kind: 'run', argv: systemctl(config.rootless, pool, names.pool), note: 'waits until PgBouncer is healthy' },
        ...(pool === 'restart' ? { restarts: [names.pool] } : {}),
      });
    }
  }
  return steps;
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

export function formatInstall(result: InstallResult): string {
  const lines: string[] = [];
  for (const file of result.files) {
    lines.push(`${file.status.padEnd(9)} ${file.path}`);
    if (file.diff && file.status !== 'unchanged') lines.push(indent(file.diff));
  }
  if (!result.changed) {
    lines.push('Nothing to change: the installed units, secret and timer already match the config.');
  } else {
    lines.push(result.dryRun ? 'Would do (dry run, nothing changed):' : 'Done:');
    lines.push(...result.actions.map((action) => `  - ${action}`));
  }
  if (result.restarted.length > 0) lines.push(`Restarted ${result.restarted.join(' and ')} on the new units: healthy.`);
  else if (result.dryRun && result.stale.length > 0) lines.push(`Running on the units as they were: ${result.stale.join(', ')}.`);
  if (result.generatedPassphrase) {
    lines.push(
      `A backup passphrase was generated and stored in ${result.generatedPassphrase.file} (readable by its owner only).`,
      'Without it the encrypted backups cannot be read: keep a copy away from this host (docs/pgbackrest.md).',
      `It is shown this once: ${result.generatedPassphrase.value}`,
    );
  }
  if (result.generatedPassword) {
    lines.push(
      `A password was generated and stored in ${result.generatedPassword.file} (readable by its owner only).`,
      `It is shown this once: ${result.generatedPassword.value}`,
    );
  }
  lines.push(...result.warnings.map((warning) => `Note: ${warning}`));
  return lines.join('\n');
}

function indent(text: string): string {
  return text.trimEnd().split('\n').map((line) => `    ${line}`).join('\n');
}
