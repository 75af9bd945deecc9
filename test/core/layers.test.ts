// The library's layers, as its imports show them: lib/core is pure (config, validation,
// rendering: no host, no commands, no I/O), lib/host does the I/O and knows nothing of the
// commands, lib/commands has one file per command; lib/context.ts, lib/index.ts and
// lib/commands.ts tie them together. Every file opens with a comment saying what it holds, and
// the layer's files say which layer they are in ("Core:", "Host:").
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const LIB = path.resolve(import.meta.dirname, '../../lib');

/** Every .ts file under lib/, as a path relative to lib/ with forward slashes. */
function libFiles(dir = LIB): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return libFiles(full);
    return entry.name.endsWith('.ts') ? [path.relative(LIB, full).split(path.sep).join('/')] : [];
  }).sort();
}

const read = (file: string) => fs.readFileSync(path.join(LIB, file), 'utf8');

/** The modules a source imports, statically (`import ... from`, `export ... from`, `import '...'`)
 * or dynamically (`import('...')`), type-only imports included. */
function importsOf(source: string): string[] {
  const found = source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm);
  return [...found].map((m) => m[1] ?? '');
}

/** A relative specifier as the lib/ file it names (`host/podman.js`); a package as itself. */
function target(file: string, specifier: string): string {
  if (!specifier.startsWith('.')) return specifier;
  return path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
}

const targets = (file: string) => importsOf(read(file)).map((specifier) => target(file, specifier));

/** Modules that reach outside the process: the filesystem, other processes, the network, a database. */
const IO_MODULES = ['fs', 'fs/promises', 'child_process', 'net', 'dgram', 'http', 'https'].flatMap((name) => [name, `node:${name}`]).concat(['execa', 'pg']);

/** Core files allowed one I/O module, and why. */
const CORE_IO_EXCEPTIONS: Record<string, string> = {
  // Reads the package's own unit templates (units/*.mustache), files shipped with the code and
  // never changed at run time: the same input still gives the same bytes.
  'core/templates.ts': 'node:fs',
};

/** What breaks the layers in the given files: one line per forbidden import. */
function coreViolations(files: string[], importsOfFile: (file: string) => string[] = targets): string[] {
  return files.flatMap((file) =>
    importsOfFile(file)
      .filter((to) => /^(host|commands)\//.test(to) || to === 'context.js' || to === 'commands.js' || (IO_MODULES.includes(to) && CORE_IO_EXCEPTIONS[file] !== to))
      .map((to) => `${file} imports ${to}`));
}

function hostViolations(files: string[], importsOfFile: (file: string) => string[] = targets): string[] {
  return files.flatMap((file) => importsOfFile(file).filter((to) => to.startsWith('commands/') || to === 'commands.js').map((to) => `${file} imports ${to}`));
}

/** The comment a file opens with (a /** block or // lines), as plain text; '' when it opens with code. */
function header(source: string): string {
  const block = /^\/\*\*?([\s\S]*?)\*\//.exec(source);
  if (block) return (block[1] ?? '').replace(/^\s*\* ?/gm, '').replace(/\s+/g, ' ').trim();
  const lines = /^(?:\/\/.*\n)+/.exec(source);
  return lines ? lines[0].replace(/^\/\/ ?/gm, '').replace(/\s+/g, ' ').trim() : '';
}

const inLayer = (layer: string) => libFiles().filter((file) => file.startsWith(`${layer}/`));

test('the import parser finds static, re-exported, type-only, side-effect and dynamic imports', () => {
  const source = [
    "import fs from 'node:fs';",
    "import type { Context } from '../context.js';",
    "export { x } from './x.js';",
    "import './side-effect.js';",
    'import {',
    '  a,',
    "} from '../host/podman.js';",
    "const { default: pg } = await import('pg');",
  ].join('\n');
  assert.equal(importsOf(source), ['node:fs', '../context.js', './x.js', './side-effect.js', '../host/podman.js', 'pg']);
  assert.equal(importsOf(source).map((s) => target('core/render.ts', s)), ['node:fs', 'context.js', 'core/x.js', 'core/side-effect.js', 'host/podman.js', 'pg']);
});

test('lib/core imports nothing from host, commands or context, and does no I/O', () => {
  const core = inLayer('core');
  assert.ok(core.length >= 10, core.join(' '));
  assert.equal(coreViolations(core), []);
});

test('a forbidden import in lib/core is reported, and only templates.ts may read files', () => {
  const fake = (imports: Record<string, string[]>) => (file: string) => imports[file] ?? [];
  const imports = {
    'core/a.ts': ['host/podman.js', 'core/config.js', 'node:path'],
    'core/b.ts': ['context.js', 'commands/install.js', 'commands.js'],
    'core/c.ts': ['node:fs', 'fs/promises', 'node:child_process', 'execa', 'pg', 'net'],
    'core/templates.ts': ['node:fs', 'node:child_process'],
  };
  assert.equal(coreViolations(Object.keys(imports), fake(imports)), [
    'core/a.ts imports host/podman.js',
    'core/b.ts imports context.js',
    'core/b.ts imports commands/install.js',
    'core/b.ts imports commands.js',
    'core/c.ts imports node:fs',
    'core/c.ts imports fs/promises',
    'core/c.ts imports node:child_process',
    'core/c.ts imports execa',
    'core/c.ts imports pg',
    'core/c.ts imports net',
    'core/templates.ts imports node:child_process',
  ]);
});

test("the one I/O exception in lib/core is still needed: templates.ts reads the package's templates", () => {
  for (const [file, module] of Object.entries(CORE_IO_EXCEPTIONS)) {
    assert.ok(targets(file).includes(module), `${file} no longer imports ${module}: remove its exception`);
  }
});

test('lib/host imports nothing from lib/commands', () => {
  const host = inLayer('host');
  assert.ok(host.length >= 5, host.join(' '));
  assert.equal(hostViolations(host), []);
  assert.equal(hostViolations(['host/x.ts'], () => ['core/config.js', 'commands/status.js']), ['host/x.ts imports commands/status.js'], 'a violation is reported');
});

test('every file under lib/ opens with a comment that says what it holds', () => {
  const files = libFiles();
  assert.ok(files.includes('index.ts') && files.includes('context.ts') && files.includes('commands.ts'), files.join(' '));
  const bare = files.filter((file) => !/^(\/\*\*|\/\/)/.test(read(file)) || header(read(file)).split(' ').length < 4);
  assert.equal(bare, [], 'files without a header comment of a few words');
  assert.is(header('/**\n * Core: a thing.\n * More.\n */\nexport {};\n'), 'Core: a thing. More.');
  assert.is(header('// Host: one\n// two\nimport x;\n'), 'Host: one two');
  assert.is(header('import x from "y";\n/** Core: late */\n'), '');
});

for (const [layer, tag] of [['core', 'Core:'], ['host', 'Host:']] as const) {
  test(`every file in lib/${layer} says "${tag}" in its header`, () => {
    const untagged = inLayer(layer).filter((file) => !header(read(file)).includes(tag));
    assert.equal(untagged, [], `lib/${layer} files whose header lacks "${tag}"`);
  });
}

test.run();
