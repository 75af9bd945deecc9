/**
 * Core: the config as a JSON Schema, for editors checking a `.json` config file. Generated from the
 * same schema that validates configs, with the defaults filled in; every field is optional,
 * as in `renderUnits`. Checks that only code can express (cron syntax, reserved names) are
 * left to pg-quadlet itself.
 */
import { toJsonSchema } from '@valibot/to-json-schema';
import { DEFAULT_CERTIFICATES_DIR, DEFAULTS } from './config.js';
import { ConfigSchema } from './validate.js';

type JsonSchema = Record<string, unknown> & { properties?: Record<string, JsonSchema>; required?: string[] };

export function configJsonSchema(): JsonSchema {
  const schema = toJsonSchema(ConfigSchema, { errorMode: 'ignore' }) as JsonSchema;
  const withDefaults = (node: JsonSchema, defaults: Record<string, unknown>, keepRequired: readonly string[] = []): JsonSchema => {
    const properties = Object.fromEntries(
      Object.entries(node.properties ?? {}).map(([key, child]) => {
        const fallback = defaults[key];
        if (child.type === 'object' && child.properties) {
          return [key, withDefaults(child, (fallback ?? {}) as Record<string, unknown>, key === 'tls' ? ['domain'] : [])];
        }
        return [key, fallback === undefined ? child : { ...child, default: fallback }];
      }),
    );
    const { required: _required, ...rest } = node;
    return { ...rest, properties, ...(keepRequired.length > 0 ? { required: [...keepRequired] } : {}) };
  };
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'pg-quadlet config',
    ...withDefaults(schema, { ...DEFAULTS, tls: { certificatesDir: DEFAULT_CERTIFICATES_DIR } }),
  };
}
