/** `schema`: the config's JSON Schema, for editors checking a `.json` config file (also shipped
 * as docs/config.schema.json). Needs no context: it describes every config. */
import { configJsonSchema } from '../core/json-schema.js';

export async function schema(): Promise<Record<string, unknown>> {
  return configJsonSchema();
}

/** The schema is JSON for people too. */
export function formatSchema(result: Record<string, unknown>): string {
  return JSON.stringify(result, null, 2);
}
