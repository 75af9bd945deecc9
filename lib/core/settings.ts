/**
 * Core: the PostgreSQL settings a config asks for, and whether a running server has them. A
 * setting reads back from `pg_settings` in its base unit (`shared_buffers` 16384 × 8kB), so both
 * sides are brought to that unit before they are compared.
 */
import type { ResolvedConfig } from './config.js';
import { tune } from './tuning.js';

/** A row of `pg_settings`. */
export interface LiveSetting {
  readonly name: string;
  readonly setting: string;
  /** The base unit: `8kB`, `kB`, `ms`, `s`, ...; null for none. */
  readonly unit: string | null;
  readonly vartype: 'bool' | 'integer' | 'real' | 'string' | 'enum';
}

export interface SettingDrift {
  readonly name: string;
  /** As the config says it. */
  readonly configured: string;
  /** As the server has it, in the server's words (`128MB`). */
  readonly live: string;
}

/** The settings the units set from the config, as text: those derived from memory and cpus
 * (lib/core/tuning.ts), the config's own over them. */
export function expectedSettings(config: ResolvedConfig): Record<string, string> {
  const extra = Object.fromEntries(
    Object.entries(config.settings).map(([name, value]) => [name, typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value)]),
  );
  return {
    ...tune(config).serverSettings,
    ...extra,
    max_connections: String(config.maxConnections),
    shared_buffers: config.sharedBuffers,
    ssl: config.tls ? 'on' : 'off',
  };
}

/** Each expected setting the server has otherwise (a setting the server does not know is not
 * compared: it would not have started with it). `shown` gives the server's own text. */
export function settingDrift(expected: Readonly<Record<string, string>>, live: readonly LiveSetting[], shown: Readonly<Record<string, string>> = {}): SettingDrift[] {
  const byName = new Map(live.map((row) => [row.name, row]));
  return Object.entries(expected)
    .filter(([name, configured]) => {
      const row = byName.get(name);
      if (!row) return false;
      const want = normalize(configured, row);
      return want !== undefined && want !== normalize(row.setting, row);
    })
    .map(([name, configured]) => ({ name, configured, live: shown[name] ?? byName.get(name)?.setting ?? '' }));
}

const MEMORY: Readonly<Record<string, number>> = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
const TIME: Readonly<Record<string, number>> = { us: 1, ms: 1000, s: 1e6, min: 60e6, h: 3600e6, d: 86400e6 };

/** A value in the setting's base unit, as comparable text; undefined when it cannot be read. */
function normalize(value: string, row: LiveSetting): string | undefined {
  const text = value.trim();
  switch (row.vartype) {
    case 'bool':
      if (/^(on|true|yes|1|t|y)$/i.test(text)) return 'on';
      if (/^(off|false|no|0|f|n)$/i.test(text)) return 'off';
      return undefined;
    case 'integer':
    case 'real':
      return numeric(text, row.unit);
    case 'enum':
      return text.toLowerCase();
    case 'string':
      return text;
  }
}

function numeric(text: string, baseUnit: string | null): string | undefined {
  const match = /^(-?\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(text);
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = match[2] ?? '';
  if (unit === '' || baseUnit === null) return unit === '' ? String(amount) : undefined;
  const base = /^(\d*)(\w+)$/.exec(baseUnit);
  if (!base) return undefined;
  const baseFactor = Number(base[1] || 1);
  const scale = MEMORY[unit] !== undefined && MEMORY[base[2] as string] !== undefined ? MEMORY : TIME[unit] !== undefined && TIME[base[2] as string] !== undefined ? TIME : undefined;
  if (!scale) return undefined;
  return String((amount * (scale[unit] as number)) / ((scale[base[2] as string] as number) * baseFactor));
}
