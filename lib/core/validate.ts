/**
 * Core: turns what a caller passes into a complete, checked `ResolvedConfig`, or a `ConfigError`
 * listing every problem at once. The one place a config is validated.
 */
import * as v from 'valibot';
import { DEFAULT_CERTIFICATES_DIR, DEFAULTS, namedBackupDefaults, namedDefaults, type PostgresServiceInput, type ResolvedConfig } from './config.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import { atLeast, formatVersion, isSupported, LOWERABLE_KEYS, OLDEST_SUPPORTED, parsePodmanVersion } from './podman-version.js';
import { ScheduleError, toOnCalendar } from './schedule.js';
import { derivedSharedBuffers, memoryFit, mostFittingConnections, smallestFittingMemory, unreadableSettings, type MemoryFit, type TuningInput } from './tuning.js';
import { hasControlCharacter } from './unit-syntax.js';

const NAME_RULE = 'use 1-63 characters: letters, digits, "_", "." and "-", starting with a letter or digit';
const IDENTIFIER_RULE = 'use 1-63 characters: lower-case letters, digits and "_", starting with a letter or "_"';
const PATH_RULE = 'use an absolute path of letters, digits, "_", ".", "-", "+", "@" and "/", without ".." segments';

/** Names that become unit, container, volume and secret names. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const objectName = v.pipe(v.string('must be a text value'), v.regex(NAME_PATTERN, NAME_RULE));

/** Database and role names: plain SQL identifiers, so they never need quoting. */
const identifier = (reserved: readonly string[]) =>
  v.pipe(
    v.string('must be a text value'),
    v.regex(/^[a-z_][a-z0-9_]{0,62}$/, IDENTIFIER_RULE),
    v.check((name) => !reserved.includes(name) && !name.startsWith('pg_'), `is reserved by PostgreSQL: choose another name`),
  );

const hostPath = v.pipe(
  v.string('must be a text value'),
  v.regex(/^\/[A-Za-z0-9_.+@/-]*$/, PATH_RULE),
  v.check((path) => !path.split('/').includes('..'), PATH_RULE),
  v.maxLength(4096, 'is too long: use at most 4096 characters'),
);

const integer = (min: number, max: number, what: string) =>
  v.pipe(
    v.number(`must be a number (${what})`),
    v.integer(`must be a whole number (${what})`),
    v.minValue(min, `must be at least ${min} (${what})`),
    v.maxValue(max, `must be at most ${max} (${what})`),
  );

const MEMORY_UNITS = { kB: 1, MB: 1024, GB: 1024 ** 2, TB: 1024 ** 3 } as const;
const memorySize = v.pipe(
  v.string('must be a size such as "256MB"'),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const size = kilobytes(dataset.value);
    if (Number.isNaN(size)) addIssue({ message: 'must be a whole number with a PostgreSQL unit: kB, MB, GB or TB (e.g. "256MB")' });
    else if (size < 128) addIssue({ message: 'must be at least 128kB' });
    else if (size > MEMORY_UNITS.TB) addIssue({ message: 'must be at most 1TB' });
  }),
);

/** The container's memory limit: less than 256MB cannot hold PostgreSQL with its connections. */
const containerMemory = v.pipe(
  v.string('must be a size such as "4GB"'),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const size = kilobytes(dataset.value);
    if (Number.isNaN(size)) addIssue({ message: 'must be a whole number with a unit: kB, MB, GB or TB (e.g. "4GB")' });
    else if (size < 256 * MEMORY_UNITS.MB) addIssue({ message: 'must be at least 256MB' });
    else if (size > MEMORY_UNITS.TB) addIssue({ message: 'must be at most 1TB' });
  }),
);

const cpuCount = v.pipe(
  v.number('must be a number of CPUs, such as 2 or 1.5'),
  v.finite('must be a number of CPUs, such as 2 or 1.5'),
  v.minValue(0.1, 'must be at least 0.1 (a tenth of a CPU)'),
  v.maxValue(1024, 'must be at most 1024'),
);

function kilobytes(size: string): number {
  const match = /^([1-9][0-9]{0,9})(kB|MB|GB|TB)$/.exec(size);
  return match ? Number(match[1]) * MEMORY_UNITS[match[2] as keyof typeof MEMORY_UNITS] : Number.NaN;
}

const ipv4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const ipv6 = /^[0-9A-Fa-f:]{2,39}$/;
const bindAddress = v.pipe(
  v.string('must be an IP address'),
  v.check(
    (address) => ipv4.test(address) || (ipv6.test(address) && address.includes('::') !== address.includes(':::')),
    'must be an IPv4 or IPv6 address such as "127.0.0.1", "0.0.0.0" or "::1"',
  ),
);

/** Settings the product itself manages: setting them here would fight the image or the units. */
const MANAGED_SETTINGS: Readonly<Record<string, string>> = {
  max_connections: 'set maxConnections instead',
  shared_buffers: 'set sharedBuffers instead',
  port: 'set port instead (the container always listens on 5432)',
  listen_addresses: 'set bindAddress instead',
  data_directory: 'the image fixes it to /data/postgres/pgdata',
  hba_file: 'the image renders pg_hba.conf itself',
  config_file: 'the image renders postgresql.conf itself',
  ssl: 'set tls instead',
  ssl_cert_file: 'set tls instead',
  ssl_key_file: 'set tls instead',
  logging_collector: 'logs must reach the journal through stderr',
  unix_socket_directories: 'the image and its scripts depend on it',
};

const settingValue = v.union(
  [
    v.pipe(v.string(), v.maxLength(1024, 'is too long: use at most 1024 characters')),
    v.pipe(v.number(), v.finite()),
    v.boolean(),
  ],
  'must be text, a number or true/false',
);

const settings = v.pipe(
  v.custom<Record<string, unknown>>(isPlainObject, 'must be an object of PostgreSQL settings, e.g. { work_mem: "8MB" }'),
  v.record(
    v.pipe(v.string(), v.regex(/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/, 'is not a PostgreSQL setting name: use lower-case letters, digits, "_" and one "." for extension settings')),
    settingValue,
    'must be an object of PostgreSQL settings, e.g. { work_mem: "8MB" }',
  ),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    for (const name of Object.keys(dataset.value)) {
      const reason = MANAGED_SETTINGS[name];
      if (reason) {
        addIssue({ message: `is managed by pg-quadlet: ${reason}`, path: [pathItem(dataset.value, name)] });
      }
    }
  }),
);

function pathItem(input: Record<string, unknown>, key: string) {
  return { type: 'object', origin: 'value', input, key, value: input[key] } as const;
}

const schedule = v.pipe(
  v.string('must be a cron or systemd calendar text'),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    try {
      toOnCalendar(dataset.value);
    } catch (error) {
      if (!(error instanceof ScheduleError)) throw error;
      addIssue({ message: error.message });
    }
  }),
);

const podmanVersion = v.pipe(
  v.string('must be a version text such as "5.4"'),
  v.check((text) => {
    const version = parsePodmanVersion(text);
    return version !== null && isSupported(version);
  }, `must be "major.minor" from ${formatVersion(OLDEST_SUPPORTED)} to 5.x (e.g. "4.9", "5.4")`),
);

const TlsSchema = v.strictObject({
  domain: v.pipe(
    v.string('must be a domain name'),
    v.regex(/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, 'must be a domain name such as "db.example.com"'),
  ),
  certificatesDir: hostPath,
});

const hostName = v.pipe(
  v.string('must be a host name'),
  v.regex(/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, 'must be a host name such as "s3.eu-central-1.amazonaws.com"'),
);

const S3Schema = v.strictObject({
  endpoint: hostName,
  // S3's bucket naming rules.
  bucket: v.pipe(v.string('must be a bucket name'), v.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name: 3-63 lower-case letters, digits, "." and "-"')),
  region: v.pipe(v.string('must be a region'), v.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a region such as "eu-central-1"')),
  path: v.pipe(
    v.string('must be a path in the bucket'),
    v.regex(/^\/[A-Za-z0-9._/+-]*$/, 'must be an absolute path in the bucket of letters, digits, ".", "_", "/", "+" and "-", e.g. "/pg-quadlet/db1"'),
  ),
  uriStyle: v.picklist(['host', 'path'], 'must be "host" (bucket.endpoint) or "path" (endpoint/bucket)'),
  port: v.optional(integer(1, 65535, 'a TCP port')),
  caFile: v.optional(hostPath),
  keysSecret: objectName,
});

const BackupSchema = v.strictObject({
  enabled: v.boolean('must be true or false'),
  schedule,
  type: v.picklist(['diff', 'incr'], 'must be "diff" (differential) or "incr" (incremental)'),
  fullSchedule: schedule,
  keepDays: integer(1, 3650, 'days of backups to keep'),
  keepMin: integer(1, 1000, 'newest backups always kept'),
  randomizedDelaySec: integer(0, 86400, 'seconds'),
  archiveTimeoutSec: integer(0, 86400, 'seconds; 0 turns the timeout off'),
  verifySchedule: v.optional(schedule),
  encrypt: v.boolean('must be true or false'),
  passphraseSecret: objectName,
  s3: v.optional(S3Schema),
});

const PoolSchema = v.strictObject({
  enabled: v.boolean('must be true or false'),
  port: integer(1, 65535, 'a TCP port'),
  mode: v.picklist(['transaction', 'session', 'statement'], 'must be "transaction", "session" or "statement"'),
  maxClientConn: integer(1, 100000, 'client connections'),
  defaultPoolSize: integer(1, 10000, 'server connections per database and user'),
});

const imageReference = v.pipe(
  v.string('must be an image reference'),
  v.regex(/^[a-z0-9][a-z0-9._\/:@-]{0,254}$/, 'must be an image reference such as "localhost/postgres-debian:15" (lower-case registry and path, then ":tag" or "@digest")'),
);

const BuildSchema = v.strictObject({
  baseImage: imageReference,
  certGroupGid: integer(1, 4294967294, 'a group ID'),
});

const UpdateSchema = v.strictObject({
  schedule: v.optional(schedule),
});

const ConfigEntries = {
  name: objectName,
  image: imageReference,
  postgresVersion: integer(13, 17, 'a PostgreSQL major version from 13 to 17'),
  database: identifier(['postgres', 'template0', 'template1']),
  user: identifier(['postgres', 'public']),
  passwordSecret: objectName,
  bindAddress,
  port: integer(1, 65535, 'a TCP port'),
  maxConnections: integer(5, 262143, 'PostgreSQL allows up to 262143'),
  sharedBuffers: memorySize,
  memory: v.optional(containerMemory),
  cpus: v.optional(cpuCount),
  settings,
  dataVolume: objectName,
  backupVolume: objectName,
  initScripts: v.optional(hostPath),
  tls: v.optional(TlsSchema),
  backup: BackupSchema,
  pool: PoolSchema,
  build: BuildSchema,
  update: UpdateSchema,
  rootless: v.boolean('must be true or false'),
  podmanVersion,
  waitHealthy: v.boolean('must be true or false'),
  startTimeoutSec: integer(10, 86400, 'seconds'),
  stopTimeoutSec: integer(5, 3600, 'seconds'),
};

/** Field names per object, for suggesting the nearest one to a misspelt field. */
const KNOWN_FIELDS: Readonly<Record<string, readonly string[]>> = {
  '': Object.keys(ConfigEntries),
  tls: Object.keys(TlsSchema.entries),
  backup: Object.keys(BackupSchema.entries),
  'backup.s3': Object.keys(S3Schema.entries),
  pool: Object.keys(PoolSchema.entries),
  build: Object.keys(BuildSchema.entries),
  update: Object.keys(UpdateSchema.entries),
};

export const ConfigSchema = v.pipe(
  v.strictObject(ConfigEntries),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const { waitHealthy, podmanVersion: target, dataVolume, backupVolume, pool, port, maxConnections } = dataset.value;
    const version = parsePodmanVersion(target);
    const { since, argSince } = LOWERABLE_KEYS.Notify;
    if (waitHealthy && version && isSupported(version) && !atLeast(version, argSince)) {
      addIssue({
        message: `waiting for a healthy server (Notify=healthy) needs Podman ${formatVersion(argSince)} or newer (${formatVersion(since)} natively): raise podmanVersion, or leave waitHealthy unset (it is off by default for this target)`,
        path: [pathItem(dataset.value, 'waitHealthy')],
      });
    }
    if (pool.enabled && pool.port === port) {
      addIssue({ message: 'must differ from port: PgBouncer and PostgreSQL are published side by side', path: [pathItem(dataset.value, 'pool'), pathItem(pool, 'port')] });
    }
    if (pool.enabled && pool.defaultPoolSize >= maxConnections) {
      addIssue({
        message: `must be below maxConnections (${maxConnections}), which also serves backups, maintenance and direct clients`,
        path: [pathItem(dataset.value, 'pool'), pathItem(pool, 'defaultPoolSize')],
      });
    }
    if (dataVolume === backupVolume) {
      addIssue({
        message: 'must differ from dataVolume: backups on the data volume are lost with it',
        path: [pathItem(dataset.value, 'backupVolume')],
      });
    }
    const { memory, cpus, settings: own } = dataset.value;
    if (memory === undefined && cpus === undefined) return;
    const unreadable = unreadableSettings(dataset.value);
    for (const setting of unreadable) {
      addIssue({
        message: 'cannot be read, and the tuning derived from memory and cpus depends on it: write a size such as "8MB", or a number',
        path: [pathItem(dataset.value, 'settings'), pathItem(own, setting)],
      });
    }
    // An invalid memory has its own issue; there is nothing to fit into.
    const fit = memory !== undefined && v.is(containerMemory, memory) ? memoryFit(dataset.value) : undefined;
    if (fit && !fit.fits && unreadable.length === 0) {
      addIssue({ message: doesNotFit(dataset.value, fit), path: [pathItem(dataset.value, 'memory')] });
    }
  }),
);

/** Why a config's server cannot fit in its memory, and the ways out: more memory, fewer
 * connections, or smaller settings. */
function doesNotFit(config: TuningInput, fit: MemoryFit): string {
  const mb = (kb: number) => `${Number((kb / 1024).toFixed(1))}MB`;
  const workMem = config.settings.work_mem === undefined ? 'work_mem' : 'work_mem (settings.work_mem)';
  const parts =
    `shared_buffers ${mb(fit.sharedBuffersKb)} + ${fit.processes} processes (maxConnections ${config.maxConnections} + max_parallel_workers ${fit.parallelWorkers}) ` +
    `× ${mb(fit.perProcessKb)} (${workMem} ${mb(fit.workMemKb)}, 2MB of their own, ${mb(fit.pageTablesKb)} of page tables) ` +
    `+ maintenance_work_mem ${mb(fit.maintenanceWorkMemKb)} + ${mb(fit.serverOwnKb)} for the rest of the server`;
  const memory = smallestFittingMemory(config);
  const connections = mostFittingConnections(config, 5);
  const fixes = [
    ...(memory ? [`raise memory to at least ${memory}`] : []),
    ...(connections ? [`lower maxConnections to ${connections} or fewer`] : []),
    ...(config.cpus === undefined && config.settings.max_parallel_workers === undefined ? ['set cpus (max_parallel_workers follows it; without it, PostgreSQL\'s 8)'] : []),
    ...(config.settings.work_mem !== undefined ? ['lower settings.work_mem'] : []),
    ...(config.sharedBuffers !== derivedSharedBuffers(config.memory ?? '') ? ['lower sharedBuffers'] : []),
  ];
  return `is too small for this server, which can use up to ${mb(fit.needKb)}: ${parts}. ${capitalize(fixes.join(', or '))} (docs/tuning.md)`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Fills defaults into a partial config and checks every field. Throws `ConfigError` with one
 * issue per problem; never returns a config that could render a broken or injected unit.
 */
export function resolveConfig(input: PostgresServiceInput = {}): ResolvedConfig {
  if (!isPlainObject(input)) {
    throw new ConfigError([{ path: '', value: input, message: 'must be an object of config fields' }]);
  }
  const controlIssues = findControlCharacters(input, '');
  const merged = withDefaults(input);
  const result = v.safeParse(ConfigSchema, merged);
  const flagged = new Set(controlIssues.map((issue) => issue.path));
  const schemaIssues = result.success
    ? []
    : result.issues.map((issue) => toConfigIssue(issue, merged)).filter((issue) => !flagged.has(issue.path));
  const issues = [...controlIssues, ...schemaIssues];
  if (issues.length > 0 || !result.success) throw new ConfigError(issues);
  return result.output as ResolvedConfig;
}

function withDefaults(input: Record<string, unknown>): Record<string, unknown> {
  // Names derived from an invalid name would only repeat its error under other fields.
  const name = typeof input.name === 'string' && NAME_PATTERN.test(input.name) ? input.name : DEFAULTS.name;
  const merged: Record<string, unknown> = { ...DEFAULTS, ...namedDefaults(name), ...input };
  merged.backup = withBackupDefaults(input.backup, name);
  for (const section of ['pool', 'build', 'update'] as const) {
    merged[section] = isPlainObject(input[section]) ? { ...DEFAULTS[section], ...input[section] } : input[section] ?? DEFAULTS[section];
  }
  if (input.waitHealthy === undefined) merged.waitHealthy = canWaitHealthy(merged.podmanVersion);
  // Sized by its container unless the config says otherwise; an invalid memory keeps the
  // spec's, and its own error says what is wrong with it.
  if (input.sharedBuffers === undefined && typeof input.memory === 'string' && v.is(containerMemory, input.memory)) {
    merged.sharedBuffers = derivedSharedBuffers(input.memory);
  }
  if (isPlainObject(input.tls)) merged.tls = { certificatesDir: DEFAULT_CERTIFICATES_DIR, ...input.tls };
  for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key];
  return merged;
}

function withBackupDefaults(input: unknown, name: string): unknown {
  const named = namedBackupDefaults(name);
  const defaults = { ...DEFAULTS.backup, passphraseSecret: named.passphraseSecret };
  if (input === undefined) return defaults;
  if (!isPlainObject(input)) return input;
  const backup: Record<string, unknown> = { ...defaults, ...input };
  if (isPlainObject(input.s3)) backup.s3 = { ...named.s3, ...input.s3 };
  return backup;
}

/** Whether the target Podman can hold `systemctl start` until the server is healthy. An
 * unreadable version keeps the default: its own error says what is wrong with it. */
function canWaitHealthy(target: unknown): boolean {
  const version = typeof target === 'string' ? parsePodmanVersion(target) : null;
  return version === null || atLeast(version, LOWERABLE_KEYS.Notify.argSince);
}

function toConfigIssue(issue: v.BaseIssue<unknown>, input: Record<string, unknown>): ConfigIssue {
  const keys = (issue.path ?? []).map((item) => String(item.key));
  const path = keys.join('.');
  const value = keys.reduce<unknown>((node, key) => (isPlainObject(node) ? node[key] : undefined), input);
  if (issue.type === 'strict_object' && issue.expected === 'never') {
    const parentKeys = KNOWN_FIELDS[keys.slice(0, -1).join('.')] ?? [];
    const suggestion = nearest(keys.at(-1) ?? '', parentKeys);
    return {
      path,
      value,
      message: `is not a config field${suggestion ? `: did you mean "${suggestion}"?` : `; known fields: ${parentKeys.join(', ')}`}`,
    };
  }
  if (issue.type === 'strict_object' && value === undefined) {
    return { path, value, message: 'is required when its section is given' };
  }
  return { path, value, message: issue.message };
}

/** The known name closest to a misspelt one, when it is close enough to be a likely typo. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

function findControlCharacters(value: unknown, path: string): ConfigIssue[] {
  if (typeof value === 'string') {
    return hasControlCharacter(value)
      ? [{ path, value, message: 'contains a control character (newline, tab, escape...): remove it; no value may span lines' }]
      : [];
  }
  if (!isPlainObject(value)) return [];
  return Object.entries(value).flatMap(([key, child]) => {
    const childPath = path === '' ? key : `${path}.${key}`;
    const keyIssues = hasControlCharacter(key)
      ? [{ path: childPath, value: key, message: 'has a control character in its name: remove it' }]
      : [];
    return [...keyIssues, ...findControlCharacters(child, childPath)];
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
