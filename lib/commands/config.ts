/** `config`: the effective config, with where each value came from. */
import type { ResolvedConfig } from '../core/config.js';
import type { Context } from '../context.js';

export interface ConfigResult {
  readonly config: ResolvedConfig;
  /** For each field not at its default: the file, variable or flag that set it. */
  readonly sources: Readonly<Record<string, string>>;
  readonly file: string | null;
}

export async function config(context: Context): Promise<ConfigResult> {
  return { config: context.config, sources: context.sources, file: context.configFile ?? null };
}

export function formatConfig(result: ConfigResult): string {
  const lines: string[] = [];
  const walk = (node: Record<string, unknown>, prefix: string) => {
    for (const [key, value] of Object.entries(node)) {
      const field = prefix === '' ? key : `${prefix}.${key}`;
      if (typeof value === 'object' && value !== null && Object.keys(value).length > 0) walk(value as Record<string, unknown>, field);
      else lines.push(`${field} = ${JSON.stringify(value)}  (${result.sources[field] ?? 'default'})`);
    }
  };
  walk(result.config as unknown as Record<string, unknown>, '');
  return lines.join('\n');
}
