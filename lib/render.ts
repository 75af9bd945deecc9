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
  uid: 999,
} as const;

const PODMAN = '/usr/bin/podman';

/** Renders every unit for a config (missing fields take their defaults). Throws `ConfigError`
 * listing every problem when the config is invalid; nothing is rendered then. */
export function renderUnits(input: PostgresServiceInput = {}): RenderedUnit[] {
  const config = resolveConfig(input);
  const units: RenderedUnit[] = [
    containerUnit(config),
    volumeUnit(config, config.dataVolume, 'data'),
    volumeUnit(config, config.backupVolume, 'backups'),
    backupServiceUnit(config),
  ];
  if (config.backup.enabled) units.push(backupTimerUnit(config));
  return units;
}

function containerUnit(config: PostgresServiceConfig): RenderedUnit {
  const fileName = `${config.name}.container`;
  const target = parsePodmanVersion(config.podmanVersion);
  if (!target) throw new Error(`unvalidated podmanVersion ${config.podmanVersion}`);
  const lowered = lowerKeys(
    {
      ...(config.waitHealthy ? { Notify: 'healthy' } : {}),
      // Podman's 64 MB /dev/shm is too small for parallel queries' shared memory.
      ShmSize: '256m',
      // SIGINT is PostgreSQL's fast shutdown; SIGTERM (smart) waits for every client to leave.
      StopSignal: 'SIGINT',
      StopTimeout: String(config.stopTimeoutSec),
    },
    target,
  );
  const command = (words: readonly string[]) => unitWords(words, 'command');
  const content = renderTemplate('container', {
    dropIn: `${fileName}.d/override.conf next to this file`,
    description: unitValue(`PostgreSQL ${config.postgresVersion} (${config.name})`),
    image: unitValue(config.image, 'command'),
    containerName: unitValue(config.name, 'command'),
    volumes: containerVolumes(config).map((volume) => command([volume])),
    secrets: [
      command([`${config.passwordSecret},type=mount,target=postgres-password,uid=${CONTAINER.uid},gid=${CONTAINER.uid},mode=0400`]),
    ],
    environment: Object.entries(containerEnvironment(config)).map(([name, value]) => command([`${name}=${value}`])),
    publishPort: command([`${publishHost(config.bindAddress)}:${config.port}:${CONTAINER.port}`]),
    exec: Object.keys(config.settings).length > 0 ? command(['postgres', ...settingArgs(config.settings)]) : undefined,
    healthCmd: command([CONTAINER.healthCheck]),
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
  });
  return { fileName, content, target: 'quadlet', unitName: `${config.name}.service` };
}

function containerVolumes(config: PostgresServiceConfig): string[] {
  const volumes = [`${config.dataVolume}.volume:${CONTAINER.dataDir}`, `${config.backupVolume}.volume:${CONTAINER.backupDir}`];
  if (config.tls) {
    const { certificatesDir, domain } = config.tls;
    volumes.push(`${certificatesDir.replace(/\/+$/, '')}/${domain}:${CONTAINER.certificatesDir}/${domain}:ro`);
  }
  if (config.initScripts) volumes.push(`${config.initScripts}:${CONTAINER.initDir}:ro`);
  return volumes;
}

/** The spec's environment names; the password arrives as a file, never as a variable. */
function containerEnvironment(config: PostgresServiceConfig): Record<string, string> {
  return {
    POSTGRES_DB: config.database,
    POSTGRES_USER: config.user,
    POSTGRES_PASSWORD_FILE: CONTAINER.passwordFile,
    POSTGRES_MAX_CONNECTIONS: String(config.maxConnections),
    POSTGRES_SHARED_BUFFERS: config.sharedBuffers,
    ...(config.tls ? { DOMAIN: config.tls.domain } : {}),
    BACKUP_KEEP_DAYS: String(config.backup.keepDays),
    BACKUP_KEEP_MIN: String(config.backup.keepMin),
  };
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

function volumeUnit(config: PostgresServiceConfig, volumeName: string, role: 'data' | 'backups'): RenderedUnit {
  const fileName = `${volumeName}.volume`;
  const content = renderTemplate('volume', {
    dropIn: `${fileName}.d/override.conf next to this file`,
    description: unitValue(`PostgreSQL ${role} volume (${config.name})`),
    volumeName: unitValue(volumeName, 'command'),
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
