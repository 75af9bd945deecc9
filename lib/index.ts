/** The library's core, pure and typed: a config in, unit files out. The commands (install,
 * status, backup, ...) are exported apart, as `pg-quadlet/commands`. */
export { renderUnits, unitNames, type RenderedUnit, type UnitNames } from './core/render.js';
export { resolveConfig } from './core/validate.js';
export { tune, type Tuning, type TunedValue } from './core/tuning.js';
export {
  DEFAULTS,
  DEFAULT_CERTIFICATES_DIR,
  namedDefaults,
  type BackupConfig,
  type PoolConfig,
  type PostgresServiceConfig,
  type PostgresServiceInput,
  type PostgresSettings,
  type ResolvedConfig,
  type TlsConfig,
} from './core/config.js';
export { CONTAINER, SCRIPT } from './core/container-contract.js';
export { connectionUrl } from './core/connection.js';
export {
  ConfigError,
  isConfigError,
  isPgQuadletError,
  formatIssue,
  PgQuadletError,
  NotConfirmedError,
  RefusedError,
  type ConfigIssue,
  type ErrorCode,
} from './core/errors.js';
export { toOnCalendar, ScheduleError } from './core/schedule.js';
export { unitValue, unitWords, UnitValueError } from './core/unit-syntax.js';
export { OLDEST_SUPPORTED, VersionError, type PodmanVersion } from './core/podman-version.js';
