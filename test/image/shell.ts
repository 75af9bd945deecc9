// Calls the image's shell functions one at a time: each script only defines functions when it is
// sourced, so a test sources it and runs one, in a bash that reads no rc file (Node's pipes are
// sockets, and bash then thinks rshd started it and reads ~/.bashrc), with only the environment given.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const SCRIPTS = path.resolve(import.meta.dirname, '../../image/scripts');

export interface Shell {
  status: number;
  stdout: string;
  stderr: string;
}

/** Sources image/scripts/SCRIPT and runs FUNCTION ARGS... (`'eval', [code]` runs a few lines).
 * PATH is the caller's unless `env` gives one. */
export function call(script: string, fn: string, args: string[] = [], options: { env?: Record<string, string>; input?: string } = {}): Shell {
  const result = spawnSync('bash', ['--norc', '--noprofile', '-c', 'source "$1"; shift; "$@"', '_', path.join(SCRIPTS, script), fn, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', ...options.env },
    input: options.input ?? '',
    encoding: 'utf8',
  });
  if (result.error) throw result.error;
  return { status: result.status ?? 128, stdout: result.stdout, stderr: result.stderr };
}

/** Runs the body with a fresh temporary directory, removed afterwards. */
export function withTempDir(body: (dir: string) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgq-shell-'));
  try {
    body(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
