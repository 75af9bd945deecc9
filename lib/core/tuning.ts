/**
 * Core: the PostgreSQL settings sized to the container, from the config's `memory` and `cpus`:
 * PGTune's rules for a dedicated server, "web" profile, on SSDs, in one table so that the units,
 * `status` and `pg-quadlet config` (which shows each value with its rule) read the same values.
 * A value the config sets itself (`sharedBuffers`, or a `settings` entry) always wins over its
 * rule, and the rules that depend on it use it. Without `memory` and `cpus` nothing is derived:
 * the image's own settings (the spec's) apply, and the units are the same as before.
 * docs/tuning.md gives the reasons for each rule and the measurements behind the fit's constants.
 */
import type { PostgresSettings } from './config.js';

/** What the rules read from a config (resolved, or being validated). */
export interface TuningInput {
  readonly memory?: string | undefined;
  readonly cpus?: number | undefined;
  readonly maxConnections: number;
  readonly sharedBuffers: string;
  readonly settings: PostgresSettings;
}

export interface TunedValue {
  /** A PostgreSQL setting (`work_mem`), or `ShmSize` for the container's /dev/shm. */
  readonly setting: string;
  /** Where it goes: the server's `-c` arguments (shared_buffers: its environment variable), or
   * the container unit. */
  readonly target: 'server' | 'container';
  /** As the server or Podman is given it: `10MB`, `4`, `try`, `256m`. */
  readonly value: string;
  /** How the rule chooses it. */
  readonly rule: string;
  /** `rule`: the rule's value; `config`: the config sets it, and `derived` is what the rule gives. */
  readonly from: 'rule' | 'config';
  readonly derived: string;
}

export interface Tuning {
  /** Every derived value in the table's order; empty when neither `memory` nor `cpus` is set. */
  readonly values: readonly TunedValue[];
  /** The server settings the units add as `-c name=value`: the rules' values the config does not
   * set itself (shared_buffers excepted: it goes by POSTGRES_SHARED_BUFFERS, as without tuning). */
  readonly serverSettings: Readonly<Record<string, string>>;
  /** The container's limits in Podman's forms (`4g`, `2`), when set, and its /dev/shm size. */
  readonly container: { readonly memory?: string; readonly cpus?: string; readonly shmSize: string };
}

const MB = 1024;
const GB = 1024 * MB;

/** The image's /dev/shm without tuning: Podman's 64 MB is too small for parallel queries. */
const BASE_SHM_KB = 256 * MB;

/**
 * The fit's constants, measured on PostgreSQL 15 (docs/tuning.md, "The fit check"): a backend's
 * own memory besides work_mem (1.4 MB idle, 1.8 MB sorting, plus its kernel memory), and what
 * the server holds besides shared_buffers and its backends (shared memory for locks, WAL buffers
 * and the process array, 23 MB at 100 connections, and the background processes).
 */
const PROCESS_OWN_KB = 2 * MB;
const SERVER_OWN_KB = 32 * MB;
/** Page tables: 8 bytes per 4 kB page of shared_buffers, in every process that touches it all
 * (without huge pages, which `huge_pages = try` takes only when the host has them reserved). */
const PAGE_TABLE_DIVISOR = 512;

/** What PostgreSQL (or the image's postgresql.conf) uses for a setting no rule and no config sets. */
const SERVER_DEFAULTS: Readonly<Record<string, string>> = {
  work_mem: '4MB',
  maintenance_work_mem: '64MB',
  max_parallel_workers: '8',
  max_parallel_workers_per_gather: '2',
  hash_mem_multiplier: '2',
};

interface Facts {
  /** The container's memory in kB, when set. */
  readonly memory?: number;
  /** Whole CPUs: a fraction counts as one (the quota is spread over that many cores). */
  readonly cpus?: number;
  readonly maxConnections: number;
  /** A setting's value as the server will have it: the config's, else a rule's (already
   * computed: rules come after what they read), else the server's default. */
  readonly kb: (setting: string) => number;
  readonly count: (setting: string) => number;
}

interface Rule {
  readonly setting: string;
  readonly target?: 'container';
  /** What the rule is derived from; `either`: it comes with a sized container, whatever sized it. */
  readonly needs: 'memory' | 'cpus' | 'either';
  readonly rule: string;
  /** Called only when what the rule needs is set: a memory rule may read `memory`, a CPU rule
   * `cpus`, an `either` rule neither. */
  readonly derive: (facts: Required<Pick<Facts, 'memory'>> & Facts & { readonly cpus: number }) => string;
}

/** Parallel workers for one query or one index build: half the CPUs, at most 4 (PGTune's "web"
 * profile); none with one CPU, where a worker would only take turns with its leader. */
const halfTheCpus = (cpus: number) => (cpus <= 1 ? 0 : Math.min(4, Math.ceil(cpus / 2)));

/**
 * The table. Order matters: a rule reads only values above it. Why each rule (docs/tuning.md
 * says more): a dedicated server leaves the page cache the rest of memory, which
 * effective_cache_size tells the planner; a query may sort or hash in several places and in each
 * of its parallel workers, hence work_mem's divisors; wal_buffers beyond one WAL segment (16MB)
 * gains nothing; /dev/shm holds the shared hash tables of parallel joins (hash_mem_multiplier ×
 * work_mem for every worker and a leader each), which fail when it is full.
 */
const RULES: readonly Rule[] = [
  { setting: 'shared_buffers', needs: 'memory', rule: '25% of memory', derive: ({ memory }) => size(memory / 4) },
  { setting: 'effective_cache_size', needs: 'memory', rule: '75% of memory', derive: ({ memory }) => size((memory * 3) / 4) },
  { setting: 'maintenance_work_mem', needs: 'memory', rule: 'memory / 16, at most 2GB', derive: ({ memory }) => size(Math.min(memory / 16, 2 * GB)) },
  {
    setting: 'max_worker_processes',
    needs: 'cpus',
    rule: 'cpus, at least PostgreSQL\'s default of 8',
    derive: ({ cpus }) => String(Math.max(8, cpus)),
  },
  { setting: 'max_parallel_workers', needs: 'cpus', rule: 'cpus', derive: ({ cpus }) => String(cpus) },
  { setting: 'max_parallel_workers_per_gather', needs: 'cpus', rule: 'half the cpus rounded up, at most 4; 0 with one CPU', derive: ({ cpus }) => String(halfTheCpus(cpus)) },
  { setting: 'max_parallel_maintenance_workers', needs: 'cpus', rule: 'half the cpus rounded up, at most 4; 0 with one CPU', derive: ({ cpus }) => String(halfTheCpus(cpus)) },
  {
    setting: 'work_mem',
    needs: 'memory',
    rule: '(memory - shared_buffers) / (3 × maxConnections) / max_parallel_workers_per_gather, at least 4MB',
    derive: ({ memory, maxConnections, kb, count }) =>
      size(Math.max(4 * MB, (memory - kb('shared_buffers')) / (3 * maxConnections) / Math.max(1, count('max_parallel_workers_per_gather')))),
  },
  {
    setting: 'wal_buffers',
    needs: 'memory',
    rule: '3% of shared_buffers, from 64kB to 16MB',
    derive: ({ kb }) => size(Math.min(16 * MB, Math.max(64, kb('shared_buffers') * 0.03))),
  },
  { setting: 'random_page_cost', needs: 'either', rule: 'for SSDs', derive: () => '1.1' },
  { setting: 'effective_io_concurrency', needs: 'either', rule: 'for SSDs', derive: () => '200' },
  { setting: 'huge_pages', needs: 'either', rule: 'huge pages when the host has them reserved', derive: () => 'try' },
  {
    setting: 'ShmSize',
    target: 'container',
    needs: 'either',
    rule: '2 × hash_mem_multiplier × max_parallel_workers × work_mem, at least 256m',
    derive: ({ kb, count }) => podmanSize(wholeMb(Math.max(BASE_SHM_KB, 2 * count('hash_mem_multiplier') * count('max_parallel_workers') * kb('work_mem')))),
  },
];

/** The derived values of a config. Pure: the same config always gives the same table. */
export function tune(input: TuningInput): Tuning {
  const memory = input.memory === undefined ? undefined : sizeKb(input.memory);
  const cpus = input.cpus === undefined ? undefined : Math.max(1, Math.ceil(input.cpus));
  const sized = memory !== undefined || cpus !== undefined;
  const effective = new Map<string, string>();
  const facts: Facts = {
    ...(memory === undefined ? {} : { memory }),
    ...(cpus === undefined ? {} : { cpus }),
    maxConnections: input.maxConnections,
    kb: (setting) => readable(settingKb, effective.get(setting) ?? configured(input, setting), setting),
    count: (setting) => readable(settingCount, effective.get(setting) ?? configured(input, setting), setting),
  };
  const values: TunedValue[] = [];
  for (const rule of RULES) {
    const applies = rule.needs === 'either' ? sized : rule.needs === 'memory' ? memory !== undefined : cpus !== undefined;
    if (!applies) continue;
    const derived = rule.derive(facts as Parameters<Rule['derive']>[0]);
    const own = configured(input, rule.setting);
    // The config's shared_buffers is always set (to the rule's value when not given): it is the
    // config's own only when it differs.
    const wins = own !== undefined && (rule.setting !== 'shared_buffers' || sizeKb(own) !== sizeKb(derived));
    const value = wins ? own : derived;
    effective.set(rule.setting, value);
    values.push({ setting: rule.setting, target: rule.target ?? 'server', value, rule: rule.rule, from: wins ? 'config' : 'rule', derived });
  }
  const serverSettings = Object.fromEntries(
    values.filter((tuned) => tuned.target === 'server' && tuned.from === 'rule' && tuned.setting !== 'shared_buffers').map((tuned) => [tuned.setting, tuned.value]),
  );
  return {
    values,
    serverSettings,
    container: {
      ...(memory === undefined ? {} : { memory: podmanSize(memory) }),
      ...(input.cpus === undefined ? {} : { cpus: String(input.cpus) }),
      shmSize: effective.get('ShmSize') ?? podmanSize(BASE_SHM_KB),
    },
  };
}

/** sharedBuffers when the config does not set it but sets `memory`. */
export function derivedSharedBuffers(memory: string): string {
  return size(sizeKb(memory) / 4);
}

/** How a config's memory is spent, by the rules' values and the config's own. */
export interface MemoryFit {
  readonly memoryKb: number;
  /** The most the server can use: the sum of the parts below. */
  readonly needKb: number;
  readonly sharedBuffersKb: number;
  /** maxConnections + max_parallel_workers: each a process with its own work_mem. */
  readonly processes: number;
  readonly parallelWorkers: number;
  readonly workMemKb: number;
  readonly pageTablesKb: number;
  /** work_mem + the process's own memory + its page tables. */
  readonly perProcessKb: number;
  readonly maintenanceWorkMemKb: number;
  readonly serverOwnKb: number;
  readonly fits: boolean;
}

/**
 * The memory a config's server can use at most, against its `memory`: shared_buffers; every
 * connection and parallel worker with one work_mem, its own memory and its page tables; one
 * maintenance_work_mem; and the server's own. Undefined without `memory`.
 */
export function memoryFit(input: TuningInput): MemoryFit | undefined {
  if (input.memory === undefined) return undefined;
  const tuned = tune(input).values;
  const value = (setting: string) => tuned.find((row) => row.setting === setting)?.value ?? configured(input, setting);
  const sharedBuffersKb = sizeKb(input.sharedBuffers);
  const workMemKb = readable(settingKb, value('work_mem'), 'work_mem');
  const maintenanceWorkMemKb = readable(settingKb, value('maintenance_work_mem'), 'maintenance_work_mem');
  const parallelWorkers = readable(settingCount, value('max_parallel_workers'), 'max_parallel_workers');
  const pageTablesKb = sharedBuffersKb / PAGE_TABLE_DIVISOR;
  const perProcessKb = workMemKb + PROCESS_OWN_KB + pageTablesKb;
  const processes = input.maxConnections + parallelWorkers;
  const needKb = sharedBuffersKb + processes * perProcessKb + maintenanceWorkMemKb + SERVER_OWN_KB;
  const memoryKb = sizeKb(input.memory);
  return {
    memoryKb, needKb, sharedBuffersKb, processes, parallelWorkers, workMemKb, pageTablesKb, perProcessKb, maintenanceWorkMemKb,
    serverOwnKb: SERVER_OWN_KB, fits: needKb <= memoryKb,
  };
}

/** The `settings` entries the rules read and PostgreSQL could not either: validation names them
 * (the rules use the server's default in their place). */
export function unreadableSettings(input: TuningInput): string[] {
  return Object.entries(READ_AS).filter(([setting, read]) => {
    const own = configured(input, setting);
    return own !== undefined && Number.isNaN(read(own, setting));
  }).map(([setting]) => setting);
}

/** The smallest `memory` (whole MB) the config fits in, its own settings kept and the rest
 * derived again; undefined when not even 1TB is enough. */
export function smallestFittingMemory(input: TuningInput): string | undefined {
  const ownSharedBuffers = input.memory !== undefined && sizeKb(input.sharedBuffers) !== sizeKb(derivedSharedBuffers(input.memory)) ? input.sharedBuffers : undefined;
  const fitsIn = (mb: number) => {
    const memory = size(mb * MB);
    return memoryFit({ ...input, memory, sharedBuffers: ownSharedBuffers ?? derivedSharedBuffers(memory) })?.fits === true;
  };
  // What is left over grows with memory (the rules hand out less than all of it), so the first
  // size that fits is found by bisection.
  let high = 1024 * 1024;
  if (!fitsIn(high)) return undefined;
  let low = 0;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (fitsIn(middle)) high = middle;
    else low = middle;
  }
  return size(high * MB);
}

/** The most connections, from `floor` to the config's, that its memory holds with the rest
 * derived again; undefined when not even `floor` fit. */
export function mostFittingConnections(input: TuningInput, floor: number): number | undefined {
  const fitsWith = (maxConnections: number) => memoryFit({ ...input, maxConnections })?.fits === true;
  if (!fitsWith(floor)) return undefined;
  let low = floor;
  let high = input.maxConnections;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (fitsWith(middle)) low = middle;
    else high = middle;
  }
  return low;
}

const UNITS_KB: Readonly<Record<string, number>> = { B: 1 / 1024, kB: 1, MB, GB, TB: 1024 * GB };
/** The unit a number without one means, per setting (PostgreSQL's base units). */
const BASE_UNIT_KB: Readonly<Record<string, number>> = { shared_buffers: 8, wal_buffers: 8, effective_cache_size: 8 };

/** A config size (`4GB`, validated) in kB. */
export function sizeKb(text: string): number {
  return settingKb(text, '');
}

/** A memory setting's value in kB as PostgreSQL reads it (a number alone is in the setting's
 * base unit: kB, or 8 kB pages for the buffer settings); NaN when it cannot be read. */
function settingKb(value: string, setting: string): number {
  const base = BASE_UNIT_KB[setting] ?? 1;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(B|kB|MB|GB|TB)?\s*$/.exec(value);
  if (!match) return Number.NaN;
  return Number(match[1]) * (match[2] ? (UNITS_KB[match[2]] as number) : base);
}

/** A count or a real (`max_parallel_workers`, `hash_mem_multiplier`); NaN when it cannot be read. */
function settingCount(value: string): number {
  return /^\s*\d+(?:\.\d+)?\s*$/.test(value) ? Number(value) : Number.NaN;
}

/** How the rules read each setting they depend on. */
const READ_AS: Readonly<Record<string, (value: string, setting: string) => number>> = {
  work_mem: settingKb,
  maintenance_work_mem: settingKb,
  max_parallel_workers: settingCount,
  max_parallel_workers_per_gather: settingCount,
  hash_mem_multiplier: settingCount,
};

/** A setting's value read as `read` says, or the server's default when unset or unreadable. */
function readable(read: (value: string, setting: string) => number, value: string | undefined, setting: string): number {
  const own = value === undefined ? Number.NaN : read(value, setting);
  return Number.isNaN(own) ? read(SERVER_DEFAULTS[setting] ?? '', setting) : own;
}

function configured(input: TuningInput, setting: string): string | undefined {
  if (setting === 'shared_buffers') return input.sharedBuffers;
  const value = input.settings[setting];
  if (value === undefined) return undefined;
  return typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value);
}

/** A derived size as the server is given it: whole MB (a multiple of every setting's base
 * unit, so `status` reads back exactly this), in GB when whole; below 1MB, whole 8kB pages. */
function size(kb: number): string {
  if (kb < MB) return `${Math.max(8, Math.floor(kb / 8) * 8)}kB`;
  const mb = Math.floor(kb / MB);
  return mb % 1024 === 0 ? `${mb / 1024}GB` : `${mb}MB`;
}

/** A size in Podman's units (`g`, `m`, `k`: binary, like PostgreSQL's), exactly. */
function podmanSize(kb: number): string {
  if (kb % GB === 0) return `${kb / GB}g`;
  if (kb % MB === 0) return `${kb / MB}m`;
  return `${kb}k`;
}

function wholeMb(kb: number): number {
  return Math.ceil(kb / MB) * MB;
}
