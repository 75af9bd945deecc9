/** `config`: every effective field, with where its value came from. */
import type { PostgresServiceConfig } from '../config.js';

export function configLines(config: PostgresServiceConfig, sources: Readonly<Record<string, string>>): string[] {
  const lines: string[] = [];
  const walk = (node: Record<string, unknown>, prefix: string) => {
    for (const [key, value] of Object.entries(node)) {
      const field = prefix === '' ? key : `${prefix}.${key}`;
      if (typeof value === 'object' && value !== null && Object.keys(value).length > 0) walk(value as Record<string, unknown>, field);
      else lines.push(`${field} = ${JSON.stringify(value)}  (${sources[field] ?? 'default'})`);
    }
  };
  walk(config as unknown as Record<string, unknown>, '');
  return lines;
}
