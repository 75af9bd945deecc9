/**
 * Core: the names the units and the image share: paths inside the container, the scripts the
 * units and commands run, and the environment the scripts read. The image's scripts hold the same
 * values as their defaults; test/core/container-contract.test.ts fails when the two disagree.
 */

const SCRIPTS = '/usr/local/bin';

export const CONTAINER = {
  /** The data volume's mount point; PGDATA is below it. */
  dataDir: '/data/postgres',
  pgdata: '/data/postgres/pgdata',
  /** The backup volume: a separate volume, mounted inside the data volume's tree. */
  backupDir: '/data/postgres/backups',
  certificatesDir: '/data/certificates',
  initDir: '/data/init.d',
  /** Where the password secret is mounted. */
  passwordFile: '/run/secrets/postgres-password',
  port: 5432,
  poolPort: 6432,
  uid: 999,
  /** In PGDATA: who the cluster was made for, as `NAME=VALUE` lines (entrypoint.sh). */
  identityFile: 'pg-quadlet-identity',
} as const;

export const SCRIPT = {
  entrypoint: `${SCRIPTS}/entrypoint.sh`,
  healthCheck: `${SCRIPTS}/health-check.sh`,
  /** Logical dumps (pg_dump), and their restore. */
  dump: `${SCRIPTS}/backup.sh`,
  dumpRestore: `${SCRIPTS}/restore.sh`,
  /** Physical backups, WAL archiving and point-in-time recovery (pgBackRest). */
  pgbackrest: `${SCRIPTS}/pgbackrest.sh`,
  password: `${SCRIPTS}/password.sh`,
  pool: `${SCRIPTS}/pool.sh`,
  poolHealthCheck: `${SCRIPTS}/pool-health-check.sh`,
} as const;

/** Exit status of the entrypoint for a config that can never work (e.g. a database the cluster
 * was not made for): the unit does not restart on it. */
export const EXIT_CONFIG = 78;

/** The environment the units give the containers, by what it carries. */
export const ENV = {
  database: 'POSTGRES_DB',
  user: 'POSTGRES_USER',
  passwordFile: 'POSTGRES_PASSWORD_FILE',
  maxConnections: 'POSTGRES_MAX_CONNECTIONS',
  sharedBuffers: 'POSTGRES_SHARED_BUFFERS',
  domain: 'DOMAIN',
  backupKeepDays: 'BACKUP_KEEP_DAYS',
  backupKeepMin: 'BACKUP_KEEP_MIN',
  archiveTimeout: 'POSTGRES_ARCHIVE_TIMEOUT',
  poolServerHost: 'POOL_SERVER_HOST',
  poolMode: 'POOL_MODE',
  poolMaxClientConn: 'POOL_MAX_CLIENT_CONN',
  poolDefaultPoolSize: 'POOL_DEFAULT_POOL_SIZE',
} as const;
