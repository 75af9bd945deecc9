/** `config`: the effective config, with where each value came from, and the values derived
 * from `memory` and `cpus` with the rule behind each. */
import type { ResolvedConfig } from '../core/config.js';
import { tune, type TunedValue } from '../core/tuning.js';
import type { Context } from '../context.js';

export interface ConfigResult {
  readonly config: ResolvedConfig;
  /** For each field not at its default: the file, variable or flag that set it. */
  readonly sources: Readonly<Record<string, string>>;
  readonly file: string | null;
  /** What `memory` and `cpus` derive (docs/tuning.md), in the rules' order; empty without them. */
  readonly tuning: readonly TunedValue[];
}

export async function config(context: Context): Promise<ConfigResult> {
  return { config: context.config, sources: context.sources, file: context.configFile ?? null, tuning: tune(context.config).values };
}

export function formatConfig(result: ConfigResult): string {
  const lines: string[] = [];
  // sharedBuffers not given is the rule's when memory is set, not the spec's default.
  const derivedSharedBuffers = result.tuning.find((tuned) => tuned.setting === 'shared_buffers' && tuned.from === 'rule');
  const origin = (field: string) => result.sources[field] ?? (field === 'sharedBuffers' && derivedSharedBuffers ? `derived: ${derivedSharedBuffers.rule}` : 'default');
  const walk = (node: Record<string, unknown>, prefix: string) => {
    for (const [key, value] of Object.entries(node)) {
      const field = prefix === '' ? key : `${prefix}.${key}`;
      if (typeof value === 'object' && value !== null && Object.keys(value).length > 0) walk(value as Record<string, unknown>, field);
      else lines.push(`${field} = ${JSON.stringify(value)}  (${origin(field)})`);
    }
  };
  walk(result.config as unknown as Record<string, unknown>, '');
  if (result.tuning.length > 0) {
    lines.push('', 'Derived from memory and cpus (docs/tuning.md); a value the config sets wins:');
    for (const tuned of result.tuning) {
      const where = tuned.target === 'container' ? 'the container\'s ' : '';
      const field = tuned.setting === 'shared_buffers' ? 'sharedBuffers' : `settings.${tuned.setting}`;
      const why = tuned.from === 'rule' ? tuned.rule : `set by ${field}; the rule, ${tuned.rule}, gives ${tuned.derived}`;
      lines.push(`  ${where}${tuned.setting} = ${tuned.value}  (${why})`);
    }
  }
  return lines.join('\n');
}
