/**
 * Host: where a config comes from, lowest precedence first: the defaults, a config file (INI, or
 * JSON), the spec's environment variables, then `--set field=value` flags. Each value keeps the
 * name of its source, so `pg-quadlet config` can say where it came from and an error can point
 * at the file or flag to fix.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ini from 'ini';
import { DEFAULTS, type PostgresServiceInput, type ResolvedConfig } from '../core/config.js';
import { ConfigError, isConfigError, PgQuadletError } from '../core/errors.js';
import { resolveConfig } from '../core/validate.js';

/** The spec's environment variables, and the field each sets. */
export const ENVIRONMENT_FIELDS: Readonly<Record<string, string>> = {
  POSTGRES_DB: 'database',
  POSTGRES_USER: 'user',
  POSTGRES_MAX_CONNECTIONS: 'maxConnections',
  POSTGRES_SHARED_BUFFERS: 'sharedBuffers',
  DOMAIN: 'tls.domain',
  BACKUP_SCHEDULE: 'backup.schedule',
};

export interface ConfigSourceOptions {
  /** A config file named on the command line: it must exist. */
  readonly file?: string;
  /** `field=value` pairs, dotted for nested fields (`backup.keepDays=14`, `settings.work_mem=8MB`). */
  readonly sets?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** `--user`: the service is the user's (rootless = true, said to come from `--user`), and the
   * default config file is in the user's config directory instead of /etc. */
  readonly rootless?: boolean;
  /** Prefix for the default search path (`--root`). */
  readonly root?: string;
}

export interface LoadedConfig {
  readonly config: ResolvedConfig;
  /** For each dotted field path set by something other than the defaults: where it came from. */
  readonly sources: Readonly<Record<string, string>>;
  /** The config file read, if any. */
  readonly file?: string;
}

/** Files tried in order when no `--config` is given. */
export function defaultConfigFiles(options: Pick<ConfigSourceOptions, 'rootless' | 'root' | 'env'> = {}): string[] {
  const env = options.env ?? process.env;
  const home = env.HOME ?? os.homedir();
  const system = options.rootless
    ? path.join(env.XDG_CONFIG_HOME ?? path.join(home, '.config'), 'pg-quadlet', 'config.ini')
    : '/etc/pg-quadlet/config.ini';
  return [path.resolve('pg-quadlet.ini'), path.join(options.root ?? '/', system)];
}

/** A config file that cannot be read, or a `--set` flag that is not `field=value`. */
export class ConfigSourceError extends PgQuadletError {
  override readonly name = 'ConfigSourceError';

  constructor(message: string, options?: ErrorOptions) {
    super('PG_QUADLET_CONFIG_SOURCE', message, options);
  }
}

/** Reads and merges every source, then validates the result; `ConfigError` issues name their source. */
export function loadConfig(options: ConfigSourceOptions = {}): LoadedConfig {
  const input: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  const set = (field: string, value: unknown, source: string) => {
    assign(input, field, value);
    sources[field] = source;
  };

  const file = options.file ?? defaultConfigFiles(options).find((candidate) => existsSync(candidate));
  if (file !== undefined) {
    for (const [field, value] of leaves(readConfigFile(file))) set(field, coerce(field, value), file);
  }
  const env = options.env ?? process.env;
  for (const [variable, field] of Object.entries(ENVIRONMENT_FIELDS)) {
    const value = env[variable];
    if (value !== undefined && value !== '') set(field, coerce(field, value), `environment ${variable}`);
  }
  for (const pair of options.sets ?? []) {
    const separator = pair.indexOf('=');
    if (separator <= 0) throw new ConfigSourceError(`--set ${JSON.stringify(pair)}: write field=value, e.g. --set maxConnections=200`);
    const field = pair.slice(0, separator);
    set(field, coerce(field, pair.slice(separator + 1)), `--set ${field}`);
  }
  if (options.rootless) set('rootless', true, '--user');

  try {
    return { config: resolveConfig(input as PostgresServiceInput), sources, ...(file === undefined ? {} : { file }) };
  } catch (error) {
    if (!isConfigError(error)) throw error;
    throw new ConfigError(
      error.issues.map((issue) => {
        const source = sourceOf(issue.path, sources);
        return source ? { ...issue, message: `${issue.message} (set by ${source})` } : issue;
      }),
      { cause: error },
    );
  }
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigSourceError(`cannot read config file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
  if (file.endsWith('.json')) {
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigSourceError(`config file ${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
    }
  }
  return ini.parse(text);
}

function* leaves(object: Record<string, unknown>, prefix = ''): Generator<[string, unknown]> {
  for (const [key, value] of Object.entries(object)) {
    const field = prefix === '' ? key : `${prefix}.${key}`;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) yield* leaves(value as Record<string, unknown>, field);
    else yield [field, value];
  }
}

/** Optional number fields, which have no default to tell their type. */
const UNDEFAULTED_NUMBERS: Readonly<Record<string, number>> = { 'backup.s3.port': 0, cpus: 0 };

/** INI, environment and flags carry text: numbers and booleans are read as the field's default
 * type says. Anything else stays text, for validation to judge. */
function coerce(field: string, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const template = UNDEFAULTED_NUMBERS[field] ?? field.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], DEFAULTS);
  if (typeof template === 'number' && /^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  if (typeof template === 'boolean' && /^(true|false)$/i.test(value.trim())) return value.trim().toLowerCase() === 'true';
  return value;
}

function assign(target: Record<string, unknown>, field: string, value: unknown): void {
  const keys = field.split('.');
  const last = keys.pop() as string;
  let node = target;
  for (const key of keys) {
    const child = node[key];
    node = (node[key] = typeof child === 'object' && child !== null ? child : {}) as Record<string, unknown>;
  }
  node[last] = value;
}

function sourceOf(field: string, sources: Readonly<Record<string, string>>): string | undefined {
  for (let parts = field.split('.'); parts.length > 0; parts.pop()) {
    const source = sources[parts.join('.')];
    if (source) return source;
  }
  return undefined;
}
