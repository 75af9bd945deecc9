export { renderUnits, CONTAINER, type RenderedUnit } from './render.js';
export { resolveConfig } from './validate.js';
export {
  DEFAULTS,
  DEFAULT_CERTIFICATES_DIR,
  namedDefaults,
  type BackupConfig,
  type PostgresServiceConfig,
  type PostgresServiceInput,
  type PostgresSettings,
  type TlsConfig,
} from './config.js';
export { ConfigError, isConfigError, formatIssue, type ConfigIssue } from './errors.js';
export { toOnCalendar, ScheduleError } from './schedule.js';
export { unitValue, unitWords, UnitValueError } from './unit-syntax.js';
export { OLDEST_SUPPORTED, VersionError, type PodmanVersion } from './podman-version.js';
