// What `npm install pg-quadlet` gives a program: the two entry points the package exports, built,
// with their types, resolved the way Node resolves them for a user.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const REPO = path.resolve(import.meta.dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { exports: Record<string, { types?: string; default?: string } | string> };

test("'pg-quadlet' is the pure core: renderUnits and the config's checks", async () => {
  const core = await import('pg-quadlet');
  assert.is(typeof core.renderUnits, 'function');
  assert.is(typeof core.resolveConfig, 'function');
  assert.is(core.renderUnits()[0]?.fileName, 'poststack-postgres.container');
});

test("'pg-quadlet/commands' has every command of the CLI and its formatter, and createContext", async () => {
  const commands = (await import('pg-quadlet/commands')) as Record<string, unknown>;
  for (const name of ['install', 'uninstall', 'status', 'url', 'backup', 'backups', 'restore', 'password', 'render', 'config', 'schema']) {
    assert.is(typeof commands[name], 'function', name);
    assert.is(typeof commands[`format${name[0]?.toUpperCase()}${name.slice(1)}`], 'function', `format for ${name}`);
  }
  assert.is(typeof commands.createContext, 'function');
});

test('both entry points ship their type declarations', () => {
  for (const entry of ['.', './commands']) {
    const target = pkg.exports[entry];
    assert.ok(typeof target === 'object' && target.types, `${entry} names its types`);
    assert.ok(fs.existsSync(path.join(REPO, (target as { types: string }).types)), `${entry}: ${(target as { types: string }).types} is built`);
  }
});

test.run();
