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
  /** pgBackRest's repository on the backup volume (repo1), and the stanza's name. */
  pgbackrestRepo: '/data/postgres/backups/pgbackrest',
  stanza: 'main',
  certificatesDir: '/data/certificates',
  initDir: '/data/init.d',
  /** Where the password secret is mounted. */
  passwordFile: '/run/secrets/postgres-password',
  /** Where the backup passphrase and the S3 keys secrets are mounted. */
  backupPassphraseFile: '/run/secrets/backup-passphrase',
  s3KeysFile: '/run/secrets/backup-s3-keys',
  /** Where `backup.s3.caFile` is mounted (read-only). */
  s3CaFile: '/etc/pg-quadlet/s3-ca.pem',
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
  /** The server's archive_command (pgbackrest-lib.sh names it beside itself). */
  archivePush: `${SCRIPTS}/archive-push.sh`,
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
  backupEncrypt: 'POSTGRES_BACKUP_ENCRYPT',
  backupPassphraseFile: 'POSTGRES_BACKUP_PASSPHRASE_FILE',
  s3KeysFile: 'POSTGRES_BACKUP_S3_KEYS_FILE',
  /** pgBackRest's own names for repo2 (it reads them from the environment too). */
  repo2Type: 'PGBACKREST_REPO2_TYPE',
  repo2Endpoint: 'PGBACKREST_REPO2_S3_ENDPOINT',
  repo2Bucket: 'PGBACKREST_REPO2_S3_BUCKET',
  repo2Region: 'PGBACKREST_REPO2_S3_REGION',
  repo2Path: 'PGBACKREST_REPO2_PATH',
  repo2UriStyle: 'PGBACKREST_REPO2_S3_URI_STYLE',
  repo2Port: 'PGBACKREST_REPO2_STORAGE_PORT',
  repo2CaFile: 'PGBACKREST_REPO2_STORAGE_CA_FILE',
  poolServerHost: 'POOL_SERVER_HOST',
  poolMode: 'POOL_MODE',
  poolMaxClientConn: 'POOL_MAX_CLIENT_CONN',
  poolDefaultPoolSize: 'POOL_DEFAULT_POOL_SIZE',
} as const;
