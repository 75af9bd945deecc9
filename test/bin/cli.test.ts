// The command line as a user runs it: a real process, its output and exit codes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderUnits } from '../../lib/index.js';

const BIN = path.resolve(import.meta.dirname, '../../bin/pg-quadlet.ts');
// Resolved here: the CLI runs in a scratch directory, where a bare "tsx" would not be found.
const TSX = import.meta.resolve('tsx');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-quadlet-cli-'));

function cli(args: string[], env: Record<string, string> = {}) {
  return execa(process.execPath, ['--import', TSX, BIN, ...args], {
    reject: false,
    cwd: scratch,
    env: { PATH: process.env.PATH ?? '', HOME: scratch, ...env },
    extendEnv: false,
    stdin: 'ignore',
  });
}

test('--help lists the commands, global options and exit codes; each command has examples', async () => {
  const help = await cli(['--help']);
  assert.is(help.exitCode, 0);
  for (const command of ['render', 'config', 'install', 'uninstall', 'status', 'url']) assert.match(help.stdout, new RegExp(`pg-quadlet ${command} `));
  assert.match(help.stdout, /--dry-run|--config/);
  assert.match(help.stdout, /Exit codes: 0 success; 1 failure .*; 2 invalid arguments or config/);
  const install = await cli(['install', '--help']);
  assert.match(install.stdout, /Examples:[\s\S]*pg-quadlet install --now/);
  assert.match(install.stdout, /--dry-run/);
});

test('no command, or an unknown option, is a usage error (exit 2) without a stack trace', async () => {
  const none = await cli([]);
  assert.is(none.exitCode, 2);
  assert.match(none.stderr, /Give a command/);
  const unknown = await cli(['render', '--bogus']);
  assert.is(unknown.exitCode, 2);
  assert.match(unknown.stderr, /Unknown argument: bogus/);
  assert.not.match(unknown.stderr, /\n\s+at /);
});

test('an invalid config exits 2 with one line per problem, naming the field, value and source', async () => {
  const result = await cli(['render', '--set', 'port=0', '--set', 'databse=x'], { POSTGRES_MAX_CONNECTIONS: 'lots' });
  assert.is(result.exitCode, 2);
  assert.is(result.stdout, '');
  const lines = result.stderr.trim().split('\n');
  assert.is(lines[0], 'pg-quadlet: the config is invalid:');
  assert.ok(lines.some((line) => /^ {2}port = 0: must be at least 1 .*\(set by --set port\)$/.test(line)), result.stderr);
  assert.ok(lines.some((line) => /^ {2}databse = "x": .*did you mean "database"/.test(line)), result.stderr);
  assert.ok(lines.some((line) => /^ {2}maxConnections = "lots": .*environment POSTGRES_MAX_CONNECTIONS/.test(line)), result.stderr);
  assert.not.match(result.stderr, /\n\s+at /);
});

test('render prints the files, writes them with --out, or gives JSON for scripts', async () => {
  const expected = renderUnits();
  const printed = await cli(['render']);
  assert.is(printed.exitCode, 0);
  for (const unit of expected) assert.ok(`${printed.stdout}\n`.includes(`==> ${unit.fileName} <==\n${unit.content}`), unit.fileName);

  const json = await cli(['render', '--json']);
  assert.equal(JSON.parse(json.stdout), expected);

  const out = path.join(scratch, 'units');
  const written = await cli(['render', '--out', out]);
  assert.is(written.exitCode, 0);
  for (const unit of expected) assert.is(fs.readFileSync(path.join(out, unit.fileName), 'utf8'), unit.content);
});

test('a config file in the working directory is found without --config', async () => {
  fs.writeFileSync(path.join(scratch, 'pg-quadlet.ini'), 'name = fromfile\n');
  try {
    const result = await cli(['config']);
    assert.match(result.stdout, new RegExp(`^name = "fromfile"  \\(${path.join(scratch, 'pg-quadlet.ini').replaceAll('/', '\\/')}\\)$`, 'm'));
    assert.match(result.stdout, /^port = 5432 {2}\(default\)$/m);
    const json = JSON.parse((await cli(['config', '--json'])).stdout);
    assert.is(json.config.name, 'fromfile');
  } finally {
    fs.rmSync(path.join(scratch, 'pg-quadlet.ini'));
  }
});

test('a missing podman is one line naming the command, exit 1, and nothing is written', async () => {
  const bin = path.join(scratch, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  // Node itself stays reachable; podman and systemctl do not.
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  const result = await cli(['install', '--root', path.join(scratch, 'root')], { PATH: bin });
  assert.is(result.exitCode, 1);
  assert.is(result.stderr.trim(), 'pg-quadlet: podman is not installed here: pg-quadlet needs Podman 4.6 or newer and a running systemd (Debian: apt install podman)');
  assert.not.ok(fs.existsSync(path.join(scratch, 'root')), 'no file written');
});

test('purging asks first: without a terminal and without --yes nothing is purged (exit 2)', async () => {
  const result = await cli(['uninstall', '--purge', '--root', path.join(scratch, 'root')]);
  assert.is(result.exitCode, 2);
  assert.match(result.stderr, /nothing was purged \(answer yes, or pass --yes\)/);
});

test('--set may come before the command, once per field', async () => {
  const result = await cli(['--set', 'port=7000', '--set', 'name=billing', 'render', '--json']);
  assert.is(result.exitCode, 0, result.stderr);
  const container = (JSON.parse(result.stdout) as Array<{ fileName: string; content: string }>).find((unit) => unit.fileName === 'billing.container');
  assert.match(container?.content ?? '', /^PublishPort=127\.0\.0\.1:7000:5432$/m);
});

test('the built command (what npm installs) renders the same files as the library', async () => {
  const built = path.resolve(import.meta.dirname, '../../dist/bin/pg-quadlet.js');
  assert.ok(fs.existsSync(built), 'run npm run build first (npm install does it)');
  const result = await execa(process.execPath, [built, 'render', '--json'], { reject: false, cwd: scratch, env: { PATH: process.env.PATH ?? '' }, extendEnv: false });
  assert.is(result.exitCode, 0, result.stderr);
  assert.equal(JSON.parse(result.stdout), renderUnits());
});

test('url prints the masked connection string', async () => {
  const result = await cli(['url', '--set', 'tls.domain=db.example.com']);
  assert.is(result.stdout, 'postgresql://poststack:***@db.example.com:5432/poststack?sslmode=verify-full');
});

test('a failed host command is one line; --verbose adds what it printed and the command run', async () => {
  const bin = path.join(scratch, 'fakebin');
  fs.mkdirSync(bin, { recursive: true });
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  // A podman whose container runs and whose backup fails, printing on both streams.
  fs.writeFileSync(
    path.join(bin, 'podman'),
    '#!/bin/sh\ncase "$1" in\n  inspect) echo true ;;\n  exec) echo "pg_dump: dumping table t"; echo "pg_dump: error: could not write: No space left on device" >&2; echo "backup: error: the backup failed (exit 1)" >&2; exit 1 ;;\nesac\n',
    { mode: 0o755 },
  );
  const env = { PATH: `${bin}:/usr/bin:/bin` };
  const plain = await cli(['dump'], env);
  assert.is(plain.exitCode, 1);
  assert.is(plain.stderr.trim(), 'pg-quadlet: podman exec poststack-postgres /usr/local/bin/backup.sh: exit 1: backup: error: the backup failed (exit 1)');
  const verbose = await cli(['dump', '--verbose'], env);
  assert.is(verbose.exitCode, 1);
  assert.match(verbose.stderr, /^\$ podman inspect /m, 'each command run');
  assert.match(verbose.stderr, /--- podman exec poststack-postgres \/usr\/local\/bin\/backup\.sh \(exit 1\) ---\nstdout:\npg_dump: dumping table t\nstderr:\npg_dump: error: could not write: No space left on device\nbackup: error: the backup failed/);
});

test.after(() => fs.rmSync(scratch, { recursive: true, force: true }));
test.run();
