/**
 * Core: the typed config of one PostgreSQL service, and the one place its defaults live.
 * Field names are public API: the library, the CLI's INI file and the docs all use them.
 */

/** PostgreSQL settings passed to the server as `-c name=value`. */
export type PostgresSettings = Readonly<Record<string, string | number | boolean>>;

export interface TlsConfig {
  /** Domain whose certificate the server presents; the directory `<certificatesDir>/<domain>/`
   * must hold `fullchain.pem` and `privkey.pem` (the Poststack layout). */
  readonly domain: string;
  /** Host directory holding one sub-directory per domain; mounted read-only. */
  readonly certificatesDir: string;
}

/** pgBackRest's backup types: a differential holds what changed since the last full backup, an
 * incremental what changed since the last backup of any type. */
export type BackupType = 'diff' | 'incr';

/** Each kind of backup as people read it (unit descriptions, command output). */
export const BACKUP_TYPE_NAMES = { full: 'full', diff: 'differential', incr: 'incremental' } as const;

/** The off-host repository: S3 or an S3-compatible store, pgBackRest's repo2. Backups go to it
 * as to the local one, and every WAL segment is archived to both. */
export interface S3Config {
  /** The service's host name, e.g. `s3.eu-central-1.amazonaws.com` (TLS, certificate checked). */
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  /** Where in the bucket the repository lives. Default `/pg-quadlet/<name>`: one per service. */
  readonly path: string;
  /** `host` (`bucket.endpoint`, AWS's way) or `path` (`endpoint/bucket`, most S3-compatible servers). */
  readonly uriStyle: 'host' | 'path';
  /** The endpoint's port when not 443. */
  readonly port?: number;
  /** Host file of a CA certificate to trust for the endpoint (a private CA); mounted read-only. */
  readonly caFile?: string;
  /** Podman secret holding the access key ID (first line) and the secret access key (second):
   * never written into a unit. Default `<name>-s3-keys`; install creates it from
   * `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` when missing. */
  readonly keysSecret: string;
}

export interface BackupConfig {
  /** Turn the scheduled backup timers off (the backup services can still be started by hand). */
  readonly enabled: boolean;
  /** When the scheduled backups of `type` run: 5-field cron (`0 2 * * *`, the spec's form) or a
   * systemd calendar expression (`*-*-* 02:00:00`), converted to `OnCalendar=`. */
  readonly schedule: string;
  /** What those are: `diff` (a restore needs the full and one differential) or `incr` (smaller,
   * but a restore needs every incremental since the last backup). */
  readonly type: BackupType;
  /** When full backups run, in the same forms as `schedule`. */
  readonly fullSchedule: string;
  /** Point-in-time recovery reaches back this many days: older backups and WAL are expired (never
   * the newest full backup). Logical dumps (`pg-quadlet dump`) older than this are removed too. */
  readonly keepDays: number;
  /** The newest this many logical dumps are kept whatever their age. */
  readonly keepMin: number;
  /** A WAL segment with any change is archived after at most this many seconds: the most recent
   * work a lost data volume can cost (the recovery point objective). 0 turns the timeout off. */
  readonly archiveTimeoutSec: number;
  /** Spread start times by up to this many seconds, so many hosts do not all start at once. */
  readonly randomizedDelaySec: number;
  /** When `pgbackrest verify` checks every backup and WAL file against its checksum, in the forms
   * of `schedule` (e.g. `0 4 * * sat`); unset: no timer (`pg-quadlet verify` runs it by hand). */
  readonly verifySchedule?: string;
  /** Encrypt every repository (aes-256-cbc) with the passphrase in `passphraseSecret`. Chosen
   * before the first backup: pgBackRest cannot encrypt a repository that holds backups. */
  readonly encrypt: boolean;
  /** Podman secret holding the repositories' passphrase; install generates it when missing and
   * shows it once. Without it, encrypted backups cannot be read. Default `<name>-backup-passphrase`. */
  readonly passphraseSecret: string;
  /** A second, off-host repository. */
  readonly s3?: S3Config;
}

/** How install, `image build` and `update` build the image from the `image/` folder shipped in
 * the package, when `image` is a `localhost/` name. */
export interface BuildConfig {
  /** The Debian image the build starts from (the Containerfile's BASE_IMAGE): a mirror's copy, or a
   * local image on a host that cannot reach Docker Hub. */
  readonly baseImage: string;
  /** GID of the host group that may read the TLS private keys: rootful Podman shares GIDs with
   * the host, so the image's certgroup must have the same one. */
  readonly certGroupGid: number;
}

export interface UpdateConfig {
  /** When `pg-quadlet update` rebuilds the image with Debian's current packages and restarts onto
   * it (rolling back if it does not become healthy), in the forms of `backup.schedule`; unset: no
   * timer. */
  readonly schedule?: string;
}

export type PoolMode = 'transaction' | 'session' | 'statement';

export interface PoolConfig {
  /** Run PgBouncer in front of PostgreSQL, in its own container on a shared network. */
  readonly enabled: boolean;
  /** Host port published for PgBouncer, on the same address as PostgreSQL. */
  readonly port: number;
  /** When a server connection returns to the pool: after each transaction (default), session or statement. */
  readonly mode: PoolMode;
  /** Client connections PgBouncer accepts. */
  readonly maxClientConn: number;
  /** Server connections per database and user. */
  readonly defaultPoolSize: number;
}

export interface PostgresServiceConfig {
  /** Name of the container and of its systemd service (`<name>.service`). */
  readonly name: string;
  /** Container image to run (built from this project's `image/`). */
  readonly image: string;
  /** PostgreSQL major version the image carries. */
  readonly postgresVersion: number;
  /** Database created on first start. */
  readonly database: string;
  /** Role that owns the database, created on first start. */
  readonly user: string;
  /** Podman secret holding that role's password; never written into a unit. Default `<name>-password`. */
  readonly passwordSecret: string;
  /** Host address the port is published on: loopback unless opened on purpose. */
  readonly bindAddress: string;
  /** Host port published for PostgreSQL (the container listens on 5432). */
  readonly port: number;
  readonly maxConnections: number;
  /** PostgreSQL memory size, e.g. `256MB`. Default: 25% of `memory` when that is set (see
   * lib/core/tuning.ts), else the spec's `256MB`. */
  readonly sharedBuffers: string;
  /** The PostgreSQL container's memory limit, in PostgreSQL's units (`4GB`, `1536MB`). The
   * server's memory settings are then derived from it (docs/tuning.md), and a config whose
   * connections cannot fit in it is refused. Unset: no limit, and the spec's settings. */
  readonly memory?: string;
  /** The PostgreSQL container's CPU limit (`2`, or a fraction such as `1.5`); the parallel
   * workers are derived from it. Unset: no limit, and PostgreSQL's worker defaults. */
  readonly cpus?: number;
  /** Extra PostgreSQL settings, e.g. `{ work_mem: '8MB' }`. */
  readonly settings: PostgresSettings;
  /** Podman volume holding the data directory, mounted at `/data/postgres`. Default `<name>-data`. */
  readonly dataVolume: string;
  /** Separate Podman volume for backups, so losing the data volume keeps them. Default `<name>-backups`. */
  readonly backupVolume: string;
  /** Host directory of `*.sql`, `*.sql.gz` and `*.sh` files run once on first start. */
  readonly initScripts?: string;
  /** Serve TLS with the certificates of this domain; plain TCP is then refused. */
  readonly tls?: TlsConfig;
  readonly backup: BackupConfig;
  readonly pool: PoolConfig;
  readonly build: BuildConfig;
  readonly update: UpdateConfig;
  /** Units for a user's systemd (`systemctl --user`) instead of the system's. */
  readonly rootless: boolean;
  /** Oldest Podman the units must work with, `major.minor` (4.6 or newer). */
  readonly podmanVersion: string;
  /** Make `systemctl start` return only once the server is healthy (needs Podman 4.7). */
  readonly waitHealthy: boolean;
  /** Seconds systemd allows for a start, first initialization and init scripts included. */
  readonly startTimeoutSec: number;
  /** Seconds PostgreSQL gets for a clean shutdown before it is killed. */
  readonly stopTimeoutSec: number;
}

declare const resolved: unique symbol;

/** A config that `resolveConfig` completed and checked, the one kind the renderer and the
 * commands take: the type system keeps an unchecked object out of a unit file. */
export type ResolvedConfig = PostgresServiceConfig & { readonly [resolved]: true };

type DeepPartial<T> = { -readonly [K in keyof T]?: NonNullable<T[K]> extends object ? DeepPartial<NonNullable<T[K]>> : T[K] };

/** What callers pass: any subset of the config; defaults fill the rest. */
export type PostgresServiceInput = DeepPartial<Omit<PostgresServiceConfig, 'settings' | 'tls'>> & {
  settings?: PostgresSettings;
  tls?: Partial<TlsConfig>;
};

/** The defaults, from the Poststack specification. */
export const DEFAULTS = {
  name: 'poststack-postgres',
  image: 'localhost/postgres-debian:15',
  postgresVersion: 15,
  database: 'poststack',
  user: 'poststack',
  bindAddress: '127.0.0.1',
  port: 5432,
  maxConnections: 100,
  sharedBuffers: '256MB',
  settings: {},
  backup: {
    enabled: true,
    schedule: '0 2 * * *',
    type: 'diff',
    // Sunday 01:30, before that day's differential.
    fullSchedule: '30 1 * * sun',
    keepDays: 7,
    keepMin: 3,
    randomizedDelaySec: 300,
    archiveTimeoutSec: 60,
    encrypt: false,
  },
  pool: {
    enabled: false,
    port: 6432,
    mode: 'transaction',
    maxClientConn: 1000,
    defaultPoolSize: 20,
  },
  build: {
    baseImage: 'docker.io/library/debian:bookworm-slim',
    certGroupGid: 990,
  },
  update: {},
  rootless: false,
  podmanVersion: '5.4',
  // Only where the target Podman can wait (4.7 and newer): resolveConfig turns it off for older ones.
  waitHealthy: true,
  startTimeoutSec: 300,
  stopTimeoutSec: 60,
} as const satisfies Omit<PostgresServiceConfig, NamedField | 'backup'> & { backup: Omit<BackupConfig, 'passphraseSecret'> };

type NamedField = 'passwordSecret' | 'dataVolume' | 'backupVolume';

/** Defaults that follow the service's name, so a second service gets its own volumes and secret. */
export function namedDefaults(name: string): Pick<PostgresServiceConfig, NamedField> {
  return { passwordSecret: `${name}-password`, dataVolume: `${name}-data`, backupVolume: `${name}-backups` };
}

/** The backup section's defaults that follow the service's name. */
export function namedBackupDefaults(name: string): { passphraseSecret: string; s3: Pick<S3Config, 'path' | 'keysSecret' | 'uriStyle'> } {
  return { passphraseSecret: `${name}-backup-passphrase`, s3: { path: `/pg-quadlet/${name}`, keysSecret: `${name}-s3-keys`, uriStyle: 'host' } };
}

/** Default host directory of the TLS certificates (the spec's `/data/certificates`). */
export const DEFAULT_CERTIFICATES_DIR = '/data/certificates';
