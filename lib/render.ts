/**
 * `renderUnits`: a config in, the unit files that run it out. Pure apart from reading the
 * package's own templates; the same input always gives the same bytes.
 */
import type { PostgresServiceConfig, PostgresServiceInput, PostgresSettings } from './config.js';
import { lowerKeys, parsePodmanVersion } from './podman-version.js';
import { toOnCalendar } from './schedule.js';
import { renderTemplate } from './templates.js';
import { unitValue, unitWords } from './unit-syntax.js';
import { resolveConfig } from './validate.js';

export interface RenderedUnit {
  /** File name to install, e.g. `poststack-postgres.container`. */
  readonly fileName: string;
  readonly content: string;
  /** `quadlet` files go to Podman's Quadlet search path, `systemd` files to systemd's unit path. */
  readonly target: 'quadlet' | 'systemd';
  /** The systemd unit the file becomes (Quadlet generates a `.service` from each of its files). */
  readonly unitName: string;
}

/** Paths inside the container; the image uses the same (docs/container-contract.md). */
export const CONTAINER = {
  dataDir: '/data/postgres',
  backupDir: '/data/postgres/backups',
  certificatesDir: '/data/certificates',
  initDir: '/data/init.d',
  passwordFile: '/run/secrets/postgres-password',
  healthCheck: '/usr/local/bin/health-check.sh',
  backupScript: '/usr/local/bin/backup.sh',
  port: 5432,
  poolScript: '/usr/local/bin/pool.sh',
  poolHealthCheck: '/usr/local/bin/pool-health-check.sh',
  poolPort: 6432,
  uid: 999,
} as const;

const PODMAN = '/usr/bin/podman';

/** Renders every unit for a config (missing fields take their defaults). Throws `ConfigError`
 * listing every problem when the config is invalid; nothing is rendered then. */
export function renderUnits(input: PostgresServiceInput = {}): RenderedUnit[] {
  const config = resolveConfig(input);
  const units: RenderedUnit[] = [
    containerUnit(config),
    ...(config.pool.enabled ? [poolUnit(config), networkUnit(config)] : []),
    volumeUnit(config, config.dataVolume, 'data'),
    volumeUnit(config, config.backupVolume, 'backups'),
    backupServiceUnit(config),
  ];
  if (config.backup.enabled) units.push(backupTimerUnit(config));
  return units;
}

function containerUnit(config: PostgresServiceConfig): RenderedUnit {
  const fileName = `${config.name}.container`;
  const content = renderTemplate('container', {
    ...runtimeView(config, {
      healthCmd: CONTAINER.healthCheck,
      // Waits for the server (under the 5 s check timeout), so a start is ready as soon as it is.
      healthStartupCmd: [CONTAINER.healthCheck, '--wait', '4'],
      stopSignal: 'SIGINT',
      shmSize: '256m',
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
    ].map((volume) => command([volume])),
    secrets: [passwordSecret(config)],
    environment: environmentLines({
      POSTGRES_DB: config.database,
      POSTGRES_USER: config.user,
      POSTGRES_PASSWORD_FILE: CONTAINER.passwordFile,
      POSTGRES_MAX_CONNECTIONS: String(config.maxConnections),
      POSTGRES_SHARED_BUFFERS: config.sharedBuffers,
      ...(config.tls ? { DOMAIN: config.tls.domain } : {}),
      BACKUP_KEEP_DAYS: String(config.backup.keepDays),
      BACKUP_KEEP_MIN: String(config.backup.keepMin),
    }),
    publishPort: command([`${publishHost(config.bindAddress)}:${config.port}:${CONTAINER.port}`]),
    exec: Object.keys(config.settings).length > 0 ? command(['postgres', ...settingArgs(config.settings)]) : undefined,
  });
  return { fileName, content, target: 'quadlet', unitName: `${config.name}.service` };
}

function poolUnit(config: PostgresServiceConfig): RenderedUnit {
  const name = `${config.name}-pool`;
  const fileName = `${name}.container`;
  const content = renderTemplate('pool.container', {
    ...runtimeView(config, {
      healthCmd: CONTAINER.poolHealthCheck,
      healthStartupCmd: [CONTAINER.poolHealthCheck, '--wait', '4'],
      // PgBouncer's SIGINT lets running transactions finish and exits 0; on SIGTERM it exits 1,
      // which would leave the service failed after every stop.
      stopSignal: 'SIGINT',
    }),
    dropIn: `${fileName}.d/override.conf next to this file`,
    description: unitValue(`PgBouncer for PostgreSQL ${config.postgresVersion} (${config.name})`),
    serviceUnit: unitValue(`${config.name}.service`),
    image: command([config.image]),
    containerName: command([name]),
    network: command([`${config.name}.network`]),
    volumes: certificateVolumes(config).map((volume) => command([volume])),
    secrets: [passwordSecret(config)],
    environment: environmentLines({
      POSTGRES_DB: config.database,
      POSTGRES_USER: config.user,
      POSTGRES_PASSWORD_FILE: CONTAINER.passwordFile,
      POOL_SERVER_HOST: config.name,
      POOL_MODE: config.pool.mode,
      POOL_MAX_CLIENT_CONN: String(config.pool.maxClientConn),
      POOL_DEFAULT_POOL_SIZE: String(config.pool.defaultPoolSize),
      ...(config.tls ? { DOMAIN: config.tls.domain } : {}),
    }),
    publishPort: command([`${publishHost(config.bindAddress)}:${config.pool.port}:${CONTAINER.poolPort}`]),
    exec: command([CONTAINER.poolScript]),
  });
  return { fileName, content, target: 'quadlet', unitName: `${name}.service` };
}

/** What both containers share: health checks, hardening, stop behaviour, restart and boot,
 * with keys too new for the target Podman lowered to `PodmanArgs=`. */
function runtimeView(
  config: PostgresServiceConfig,
  options: { healthCmd: string; healthStartupCmd?: readonly string[]; stopSignal: string; shmSize?: string },
) {
  const target = parsePodmanVersion(config.podmanVersion);
  if (!target) throw new Error(`unvalidated podmanVersion ${config.podmanVersion}`);
  const lowered = lowerKeys(
    {
      ...(config.waitHealthy ? { Notify: 'healthy' } : {}),
      // Podman's 64 MB /dev/shm is too small for parallel queries' shared memory.
      ...(options.shmSize ? { ShmSize: options.shmSize } : {}),
      StopSignal: options.stopSignal,
      StopTimeout: String(config.stopTimeoutSec),
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
    stopSignal: lowered.keys.StopSignal,
    stopTimeout: lowered.keys.StopTimeout,
    podmanArgs: lowered.podmanArgs.map((arg) => command([arg])),
    timeoutStartSec: config.startTimeoutSec,
    // Longer than the container's own stop timeout, so Podman, not systemd, ends the container.
    timeoutStopSec: config.stopTimeoutSec + 30,
    wantedBy: config.rootless ? 'default.target' : 'multi-user.target',
  };
}

function command(words: readonly string[]): string {
  return unitWords(words, 'command');
}

function passwordSecret(config: PostgresServiceConfig): string {
  return command([`${config.passwordSecret},type=mount,target=postgres-password,uid=${CONTAINER.uid},gid=${CONTAINER.uid},mode=0400`]);
}

function environmentLines(variables: Record<string, string>): string[] {
  return Object.entries(variables).map(([name, value]) => command([`${name}=${value}`]));
}

function certificateVolumes(config: PostgresServiceConfig): string[] {
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

function networkUnit(config: PostgresServiceConfig): RenderedUnit {
  const fileName = `${config.name}.network`;
  const content = renderTemplate('network', {
    dropIn: `${fileName}.d/override.conf next to this file`,
    description: unitValue(`Network of PostgreSQL and its pool (${config.name})`),
    networkName: command([config.name]),
  });
  return { fileName, content, target: 'quadlet', unitName: `${config.name}-network.service` };
}

function volumeUnit(config: PostgresServiceConfig, volumeName: string, role: 'data' | 'backups'): RenderedUnit {
  const fileName = `${volumeName}.volume`;
  const content = renderTemplate('volume', {
    dropIn: `${fileName}.d/override.conf next to this file`,
    description: unitValue(`PostgreSQL ${role} volume (${config.name})`),
    volumeName: command([volumeName]),
  });
  return { fileName, content, target: 'quadlet', unitName: `${volumeName}-volume.service` };
}

function backupServiceUnit(config: PostgresServiceConfig): RenderedUnit {
  const unitName = `${config.name}-backup.service`;
  const content = renderTemplate('backup.service', {
    dropIn: systemctlEdit(config, unitName),
    description: unitValue(`Back up PostgreSQL (${config.name})`),
    serviceUnit: unitValue(`${config.name}.service`),
    execStart: unitWords([PODMAN, 'exec', config.name, CONTAINER.backupScript]),
  });
  return { fileName: unitName, content, target: 'systemd', unitName };
}

function backupTimerUnit(config: PostgresServiceConfig): RenderedUnit {
  const unitName = `${config.name}-backup.timer`;
  const content = renderTemplate('backup.timer', {
    dropIn: systemctlEdit(config, unitName),
    description: unitValue(`Scheduled backup of PostgreSQL (${config.name})`),
    onCalendar: toOnCalendar(config.backup.schedule).map((expression) => unitValue(expression)),
    randomizedDelaySec: config.backup.randomizedDelaySec,
  });
  return { fileName: unitName, content, target: 'systemd', unitName };
}

function systemctlEdit(config: PostgresServiceConfig, unitName: string): string {
  return `systemctl${config.rootless ? ' --user' : ''} edit ${unitName}`;
}
