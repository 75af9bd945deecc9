/**
 * Core: `renderUnits`, a config in and the unit files that run it out. Pure apart from reading the
 * package's own templates; the same input always gives the same bytes.
 */
import { repositorySetup, secretOption } from './backup-repos.js';
import { BACKUP_TYPE_NAMES, type PostgresServiceInput, type PostgresSettings, type ResolvedConfig } from './config.js';
import { CONTAINER, ENV, EXIT_CONFIG, SCRIPT } from './container-contract.js';
import { lowerKeys, parsePodmanVersion } from './podman-version.js';
import { toOnCalendar } from './schedule.js';
import { renderTemplate, type RuntimeView } from './templates.js';
import { tune } from './tuning.js';
import { unitValue, unitWords } from './unit-syntax.js';
import { resolveConfig } from './validate.js';
import { PgQuadletError } from './errors.js';

export interface RenderedUnit {
  /** File name to install, e.g. `poststack-postgres.container`. */
  readonly fileName: string;
  readonly content: string;
  /** `quadlet` files go to Podman's Quadlet search path, `systemd` files to systemd's unit path. */
  readonly target: 'quadlet' | 'systemd';
  /** The systemd unit the file becomes (Quadlet generates a `.service` from each of its files). */
  readonly unitName: string;
}

/** What each unit file is for. */
export type UnitRole =
  | 'service' | 'pool' | 'network' | 'dataVolume' | 'backupVolume'
  | 'backupService' | 'fullBackupService' | 'backupTimer' | 'fullBackupTimer' | 'verifyService' | 'verifyTimer'
  | 'updateService' | 'updateTimer';

/** A unit file a config makes, without its content: where it goes and what systemd calls it. */
export type UnitFile = Omit<RenderedUnit, 'content'> & { readonly role: UnitRole };

/** The unit files of a config, in a fixed order; the pool's and the timer's only when they are on. */
export function unitFiles(config: ResolvedConfig): UnitFile[] {
  const quadlet = (role: UnitRole, fileName: string, unitName: string): UnitFile => ({ role, fileName, target: 'quadlet', unitName });
  const systemd = (role: UnitRole, unitName: string): UnitFile => ({ role, fileName: unitName, target: 'systemd', unitName });
  return [
    quadlet('service', `${config.name}.container`, `${config.name}.service`),
    ...(config.pool.enabled
      ? [quadlet('pool', `${config.name}-pool.container`, `${config.name}-pool.service`), quadlet('network', `${config.name}.network`, `${config.name}-network.service`)]
      : []),
    quadlet('dataVolume', `${config.dataVolume}.volume`, `${config.dataVolume}-volume.service`),
    quadlet('backupVolume', `${config.backupVolume}.volume`, `${config.backupVolume}-volume.service`),
    systemd('backupService', `${config.name}-backup.service`),
    systemd('fullBackupService', `${config.name}-backup-full.service`),
    ...(config.backup.enabled
      ? [systemd('backupTimer', `${config.name}-backup.timer`), systemd('fullBackupTimer', `${config.name}-backup-full.timer`)]
      : []),
    ...(config.backup.verifySchedule !== undefined
      ? [systemd('verifyService', `${config.name}-backup-verify.service`), systemd('verifyTimer', `${config.name}-backup-verify.timer`)]
      : []),
    ...(config.update.schedule !== undefined
      ? [systemd('updateService', `${config.name}-update.service`), systemd('updateTimer', `${config.name}-update.timer`)]
      : []),
  ];
}

/** The systemd units a config makes, by role. */
export type UnitNames = { readonly [R in 'service' | 'dataVolume' | 'backupVolume' | 'backupService' | 'fullBackupService']: string } & {
  readonly [R in 'pool' | 'network' | 'backupTimer' | 'fullBackupTimer' | 'verifyService' | 'verifyTimer' | 'updateService' | 'updateTimer']?: string;
};

export function unitNames(config: ResolvedConfig): UnitNames {
  return Object.fromEntries(unitFiles(config).map((file) => [file.role, file.unitName])) as unknown as UnitNames;
}

const PODMAN = '/usr/bin/podman';

/** What the units need to know of the host beyond the config. */
export interface UnitOptions {
  /** The command that runs pg-quadlet, for the update timer's service (`update.schedule`); by
   * default `pg-quadlet`, which systemd finds in /usr/local/bin (`npm install --global`). */
  readonly pgQuadlet?: readonly string[];
  /** The config file that service reads (the one install read), so it updates the same service. */
  readonly configFile?: string;
}

/** Renders every unit for a config (missing fields take their defaults). Throws `ConfigError`
 * listing every problem when the config is invalid; nothing is rendered then. */
export function renderUnits(input: PostgresServiceInput = {}, options: UnitOptions = {}): RenderedUnit[] {
  return renderResolved(resolveConfig(input), options);
}

/** Renders the units of a config that is already checked (a command's context holds one). */
export function renderResolved(config: ResolvedConfig, options: UnitOptions = {}): RenderedUnit[] {
  return unitFiles(config).map(({ role, ...file }) => ({ ...file, content: CONTENT[role](config, file, options) }));
}

const CONTENT: Readonly<Record<UnitRole, (config: ResolvedConfig, file: Omit<UnitFile, 'role'>, options: UnitOptions) => string>> = {
  service: (config, file) => containerUnit(config, file.fileName),
  pool: (config, file) => poolUnit(config, file.fileName),
  network: (config, file) => networkUnit(config, file.fileName),
  dataVolume: (config, file) => volumeUnit(config, file.fileName, config.dataVolume, 'data'),
  backupVolume: (config, file) => volumeUnit(config, file.fileName, config.backupVolume, 'backups'),
  backupService: (config, file) => backupServiceUnit(config, file.unitName, `Take a ${BACKUP_TYPE_NAMES[config.backup.type]} backup`, ['backup', config.backup.type]),
  fullBackupService: (config, file) => backupServiceUnit(config, file.unitName, 'Take a full backup', ['backup', 'full']),
  backupTimer: (config, file) => backupTimerUnit(config, file.unitName, config.backup.schedule, `${BACKUP_TYPE_NAMES[config.backup.type]} backup`),
  fullBackupTimer: (config, file) => backupTimerUnit(config, file.unitName, config.backup.fullSchedule, 'full backup'),
  verifyService: (config, file) => backupServiceUnit(config, file.unitName, 'Verify every backup and archived WAL file', ['verify']),
  verifyTimer: (config, file) => backupTimerUnit(config, file.unitName, config.backup.verifySchedule ?? '', 'verification of the backups'),
  updateService: (config, file, options) => updateServiceUnit(config, file.unitName, options),
  updateTimer: (config, file) => backupTimerUnit(config, file.unitName, config.update.schedule ?? '', 'image update'),
};

function containerUnit(config: ResolvedConfig, fileName: string): string {
  const repositories = repositorySetup(config);
  const tuning = tune(config);
  // The config's own settings win over the derived ones (and replace them here).
  const settings = { ...tuning.serverSettings, ...config.settings };
  return renderTemplate('container', {
    ...runtimeView(config, {
      healthCmd: SCRIPT.healthCheck,
      // Waits for the server (under the 5 s check timeout), so a start is ready as soon as it is.
      healthStartupCmd: [SCRIPT.healthCheck, '--wait', '4'],
      stopSignal: 'SIGINT',
      shmSize: tuning.container.shmSize,
      ...(tuning.container.memory ? { memory: tuning.container.memory } : {}),
      // Quadlet has no key for a CPU limit (podman-systemd.unit(5) itself shows PodmanArgs=--cpus=2).
      podmanArgs: tuning.container.cpus ? [`--cpus=${tuning.container.cpus}`] : [],
      restartPreventExitStatus: EXIT_CONFIG,
    }),
    dropIn: `${fileName}.d/override.conf next to this file`,
    description: unitValue(`PostgreSQL ${config.postgresVersion} (${config.name})`),
    image: command([config.image]),
    containerName: command([config.name]),
    network: config.pool.enabled ? command([`${config.name}.network`]) : undefined,
    pool: config.pool.enabled ? unitValue(`${config.name}-pool.service`) : undefined,
    volumes: [
      `${config.dataVolume}.volume:${CONTAINER.dataDir}`,
      `${config.backupVolume}.volume:${CONTAINER.backupDir}`,
      ...certificateVolumes(config),
      ...(config.initScripts ? [`${config.initScripts}:${CONTAINER.initDir}:ro`] : []),
      ...repositories.mounts,
    ].map((volume) => command([volume])),
    secrets: [passwordSecret(config), ...repositories.secrets.map((secret) => command([secretOption(secret)]))],
    environment: environmentLines({
      [ENV.database]: config.database,
      [ENV.user]: config.user,
      [ENV.passwordFile]: CONTAINER.passwordFile,
      [ENV.maxConnections]: String(config.maxConnections),
      [ENV.sharedBuffers]: config.sharedBuffers,
      ...(config.tls ? { [ENV.domain]: config.tls.domain } : {}),
      [ENV.backupKeepDays]: String(config.backup.keepDays),
      [ENV.backupKeepMin]: String(config.backup.keepMin),
      [ENV.archiveTimeout]: String(config.backup.archiveTimeoutSec),
      ...repositories.environment,
    }),
    publishPort: command([`${publishHost(config.bindAddress)}:${config.port}:${CONTAINER.port}`]),
    exec: Object.keys(settings).length > 0 ? command(['postgres', ...settingArgs(settings)]) : undefined,
  });
}

function poolUnit(config: ResolvedConfig, fileName: string): string {
  return renderTemplate('pool.container', {
    // No memory or CPU limit: `memory` and `cpus` size PostgreSQL, and PgBouncer needs little of
    // either (one thread, a few kB per connection); a limit would only risk an OOM kill of the
    // one way in at a burst of clients, while PostgreSQL's limit is what protects the host.
    ...runtimeView(config, {
      healthCmd: SCRIPT.poolHealthCheck,
      healthStartupCmd: [SCRIPT.poolHealthCheck, '--wait', '4'],
      // PgBouncer's SIGINT lets running transactions finish and exits 0; on SIGTERM it exits 1,
      // which would leave the service failed after every stop.
      stopSignal: 'SIGINT',
    }),
    dropIn: `${fileName}.d/override.conf next to this file`,
    description: unitValue(`PgBouncer for PostgreSQL ${config.postgresVersion} (${config.name})`),
    serviceUnit: unitValue(`${config.name}.service`),
    image: command([config.image]),
    containerName: command([`${config.name}-pool`]),
    network: command([`${config.name}.network`]),
    volumes: certificateVolumes(config).map((volume) => command([volume])),
    secrets: [passwordSecret(config)],
    environment: environmentLines({
      [ENV.database]: config.database,
      [ENV.user]: config.user,
      [ENV.passwordFile]: CONTAINER.passwordFile,
      [ENV.poolServerHost]: config.name,
      [ENV.poolMode]: config.pool.mode,
      [ENV.poolMaxClientConn]: String(config.pool.maxClientConn),
      [ENV.poolDefaultPoolSize]: String(config.pool.defaultPoolSize),
      ...(config.tls ? { [ENV.domain]: config.tls.domain } : {}),
    }),
    publishPort: command([`${publishHost(config.bindAddress)}:${config.pool.port}:${CONTAINER.poolPort}`]),
    exec: command([SCRIPT.pool]),
  });
}

/** What both containers share: health checks, hardening, stop behaviour, restart and boot,
 * with keys too new for the target Podman lowered to `PodmanArgs=`. */
function runtimeView(
  config: ResolvedConfig,
  options: {
    healthCmd: string;
    healthStartupCmd?: readonly string[];
    stopSignal: string;
    shmSize?: string;
    memory?: string;
    /** Options with no Quadlet key in any version, after those lowered for the target. */
    podmanArgs?: readonly string[];
    restartPreventExitStatus?: number;
  },
): RuntimeView {
  const target = parsePodmanVersion(config.podmanVersion);
  if (!target) throw new PgQuadletError('PG_QUADLET_INTERNAL', `unvalidated podmanVersion ${config.podmanVersion}`);
  const lowered = lowerKeys(
    {
      ...(config.waitHealthy ? { Notify: 'healthy' } : {}),
      // Podman's 64 MB /dev/shm is too small for parallel queries' shared memory.
      ...(options.shmSize ? { ShmSize: options.shmSize } : {}),
      StopSignal: options.stopSignal,
      StopTimeout: String(config.stopTimeoutSec),
      ...(options.memory ? { Memory: options.memory } : {}),
    },
    target,
  );
  return {
    healthCmd: command([options.healthCmd]),
    healthStartupCmd: command(options.healthStartupCmd ?? [options.healthCmd]),
    healthInterval: '10s',
    healthTimeout: '5s',
    healthStartPeriod: '30s',
    healthRetries: 3,
    // Checked every second until the first success, so a start is reported ready promptly.
    healthStartupInterval: '1s',
    notify: lowered.keys.Notify,
    shmSize: lowered.keys.ShmSize,
    memory: lowered.keys.Memory,
    stopSignal: lowered.keys.StopSignal,
    stopTimeout: lowered.keys.StopTimeout,
    podmanArgs: [...lowered.podmanArgs, ...(options.podmanArgs ?? [])].map((arg) => command([arg])),
    restartPreventExitStatus: options.restartPreventExitStatus,
    // Half a second after a crash. A start that fails at once comes round again in about 2 s
    // (Podman's own work), and systemd's default limit (5 starts in 10 s) let such a loop run on
    // for ever (seen: 48 restarts); 10 starts in 2 minutes end it even when each start fails only
    // after 10 s, and no operator restarts that often (systemctl reset-failed clears it).
    restartSec: '500ms',
    startLimitIntervalSec: '120s',
    startLimitBurst: 10,
    timeoutStartSec: config.startTimeoutSec,
    // Longer than the container's own stop timeout, so Podman, not systemd, ends the container.
    timeoutStopSec: config.stopTimeoutSec + 30,
    wantedBy: config.rootless ? 'default.target' : 'multi-user.target',
  };
}

function command(words: readonly string[]): string {
  return unitWords(words, 'command');
}

function passwordSecret(config: ResolvedConfig): string {
  return command([secretOption({ name: config.passwordSecret, target: CONTAINER.passwordFile })]);
}

function environmentLines(variables: Record<string, string>): string[] {
  return Object.entries(variables).map(([name, value]) => command([`${name}=${value}`]));
}

function certificateVolumes(config: ResolvedConfig): string[] {
  if (!config.tls) return [];
  const { certificatesDir, domain } = config.tls;
  return [`${certificatesDir.replace(/\/+$/, '')}/${domain}:${CONTAINER.certificatesDir}/${domain}:ro`];
}

function settingArgs(settings: PostgresSettings): string[] {
  return Object.keys(settings)
    .sort()
    .flatMap((name) => {
      const value = settings[name];
      const text = typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value);
      return ['-c', `${name}=${text}`];
    });
}

function publishHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

function networkUnit(config: ResolvedConfig, fileName: string): string {
  return renderTemplate('network', {
    dropIn: `${fileName}.d/override.conf next to this file`,
    description: unitValue(`Network of PostgreSQL and its pool (${config.name})`),
    networkName: command([config.name]),
  });
}

function volumeUnit(config: ResolvedConfig, fileName: string, volumeName: string, role: 'data' | 'backups'): string {
  return renderTemplate('volume', {
    dropIn: `${fileName}.d/override.conf next to this file`,
    description: unitValue(`PostgreSQL ${role} volume (${config.name})`),
    volumeName: command([volumeName]),
  });
}

/** A service running pgbackrest.sh in the running container (`what` it does, with these arguments). */
function backupServiceUnit(config: ResolvedConfig, unitName: string, what: string, args: readonly string[]): string {
  return renderTemplate('backup.service', {
    dropIn: systemctlEdit(config, unitName),
    description: unitValue(`${what} of PostgreSQL (${config.name})`),
    serviceUnit: unitValue(`${config.name}.service`),
    execStart: unitWords([PODMAN, 'exec', config.name, SCRIPT.pgbackrest, ...args]),
  });
}

function backupTimerUnit(config: ResolvedConfig, unitName: string, schedule: string, what: string): string {
  return renderTemplate('timer', {
    dropIn: systemctlEdit(config, unitName),
    description: unitValue(`Scheduled ${what} of PostgreSQL (${config.name})`),
    onCalendar: toOnCalendar(schedule).map((expression) => unitValue(expression)),
    randomizedDelaySec: config.backup.randomizedDelaySec,
  });
}

/** `pg-quadlet update`, unattended: the same config, so the same service and image. */
function updateServiceUnit(config: ResolvedConfig, unitName: string, options: UnitOptions): string {
  return renderTemplate('update.service', {
    dropIn: systemctlEdit(config, unitName),
    description: unitValue(`Rebuild the image of PostgreSQL with current packages and restart onto it (${config.name})`),
    execStart: unitWords([
      ...(options.pgQuadlet ?? ['pg-quadlet']),
      ...(config.rootless ? ['--user'] : []),
      ...(options.configFile ? ['--config', options.configFile] : []),
      'update',
    ]),
    // A build from nothing, a restart and a rollback's restart.
    timeoutStartSec: 1800 + 2 * config.startTimeoutSec,
  });
}

function systemctlEdit(config: ResolvedConfig, unitName: string): string {
  return `systemctl${config.rootless ? ' --user' : ''} edit ${unitName}`;
}
