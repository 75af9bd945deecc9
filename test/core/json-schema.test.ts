import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULTS } from '../../lib/core/config.js';
import { configJsonSchema } from '../../lib/core/json-schema.js';

type Node = { properties: Record<string, Node & { default?: unknown }>; required?: string[]; additionalProperties?: unknown };

test('the published JSON Schema is the one the code generates (regenerate: pg-quadlet schema > docs/config.schema.json)', () => {
  const published = JSON.parse(readFileSync(new URL('../../docs/config.schema.json', import.meta.url), 'utf8'));
  assert.equal(published, configJsonSchema());
});

test('every field is optional and carries its default; unknown fields are refused', () => {
  const schema = configJsonSchema() as unknown as Node;
  assert.is(schema.required, undefined);
  assert.is(schema.additionalProperties, false);
  assert.is(schema.properties.maxConnections?.default, DEFAULTS.maxConnections);
  assert.is(schema.properties.name?.default, 'poststack-postgres');
  const backup = schema.properties.backup as Node;
  assert.is(backup.properties.schedule?.default, '0 2 * * *');
  assert.is(backup.required, undefined);
  const tls = schema.properties.tls as Node;
  assert.equal(tls.required, ['domain'], 'a tls section needs its domain');
  assert.is(tls.properties.certificatesDir?.default, '/data/certificates');
});

test.run();
