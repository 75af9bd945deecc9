// The real validators every rendered unit must pass: Podman 5.4's Quadlet generator and
// systemd 257's `systemd-analyze`, both installed by test/setup.sh. Nothing here is mocked: a
// unit passes only when the same binaries a production host runs accept it.
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface UnitFile {
  /** A file name such as `postgres.container`, or `NAME.d/NN-x.conf` for a drop-in. */
  fileName: string;
  content: string;
}

export interface QuadletResult {
  /** Exit code 0 and nothing on stderr but the generator's own "Loading source ..." lines. */
  ok: boolean;
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The stderr lines that made the run not ok (errors and warnings alike). */
  problems: string[];
  /** Generated unit name (`postgres.service`, `data-volume.service`) to its content. */
  services: Map<string, string>;
}

export interface VerifyResult {
  /** Exit code 0 and no output at all: `verify` exits 0 on unknown keys, only printing them. */
  ok: boolean;
  exitCode: number;
  output: string;
}

export interface CalendarResult {
  ok: boolean;
  /** systemd's normalized form, e.g. `*-*-* 02:00:00` for `daily 02:00`; '' when invalid. */
  normalized: string;
  output: string;
}

// Keep these paths in step with test/setup.sh.
export const cacheDir = process.env.PG_QUADLET_TEST_CACHE ?? '/var/tmp/pg-quadlet-test';
export const quadletPath = path.join(cacheDir, 'podman/usr/libexec/podman/quadlet');
export const trixieRoot = path.join(cacheDir, 'trixie');
const trixieReady = path.join(trixieRoot, '.pg-quadlet-test-ready');
const SETUP_HINT = 'run test/setup.sh as root';
export const trixieScript = fileURLToPath(new URL('./trixie.sh', import.meta.url));

export function quadletMissing(): string | null {
  try {
    fs.accessSync(quadletPath, fs.constants.X_OK);
    return null;
  } catch {
    return `Podman's quadlet generator not found at ${quadletPath}; ${SETUP_HINT}`;
  }
}

export function systemdMissing(): string | null {
  if (!fs.existsSync(trixieReady)) {
    return `the Debian trixie tree (systemd 257) is not built at ${trixieRoot}; ${SETUP_HINT}`;
  }
  if (process.getuid?.() !== 0) return `systemd-analyze runs by chroot into ${trixieRoot}, which needs root`;
  return null;
}

// The generator silently skips files it does not know, which would turn a test's typo into a
// pass: refuse those here.
const QUADLET_SOURCE = /^[^/]+\.(container|volume|network|kube|image|pod|build)$|^[^/]+\.d\/[^/]+\.conf$/;

function writeUnits(dir: string, files: UnitFile[], accept: (name: string) => boolean): string[] {
  if (files.length === 0) throw new Error('no unit files given');
  return files.map(({ fileName, content }) => {
    if (!accept(fileName)) throw new Error(`not a unit file name this harness accepts: ${fileName}`);
    const file = path.join(dir, fileName);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
    return file;
  });
}

async function withTempDir<T>(parent: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(parent, 'pg-quadlet-'));
  try {
    return await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `quadlet -dryrun` prints each generated unit as a line `---NAME---` (NAME is the bare file
 * name, e.g. `a.service`: the output directory is empty in a dry run) followed by the unit and a
 * blank line, on stdout. It prints no "Automatically generated" header and creates no [Install]
 * symlinks. On stderr it logs `quadlet-generator[PID]: Loading source unit file PATH` (and
 * `... drop-in file ...`) for every source, then any warning or error. A file it cannot convert
 * gets no section, the others still do, and the exit code is 1.
 */
export function parseDryRun(stdout: string): Map<string, string> {
  const services = new Map<string, string>();
  let name: string | undefined;
  let lines: string[] = [];
  const flush = () => {
    if (name !== undefined) services.set(name, lines.join('\n').replace(/\n*$/, '\n'));
  };
  for (const line of stdout.split('\n')) {
    const marker = /^---(.+)---$/.exec(line);
    if (marker) {
      flush();
      name = marker[1];
      lines = [];
    } else if (name !== undefined) {
      lines.push(line);
    }
  }
  flush();
  return services;
}

const INFO_LINE = /^quadlet-generator\[\d+\]: Loading source (unit|drop-in) file /;

export async function quadletDryRun(files: UnitFile[], opts: { user: boolean }): Promise<QuadletResult> {
  return withTempDir(os.tmpdir(), async (dir) => {
    writeUnits(dir, files, (name) => QUADLET_SOURCE.test(name));
    const r = await execa(quadletPath, ['-dryrun', '-no-kmsg-log', ...(opts.user ? ['-user'] : [])], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.homedir(), QUADLET_UNIT_DIRS: dir },
      extendEnv: false,
      reject: false,
      timeout: 30_000,
    });
    const problems = r.stderr.split('\n').filter((l) => l.trim() !== '' && !INFO_LINE.test(l));
    const exitCode = r.exitCode ?? -1;
    return {
      ok: exitCode === 0 && problems.length === 0,
      exitCode,
      stdout: r.stdout,
      stderr: r.stderr,
      problems,
      services: parseDryRun(r.stdout),
    };
  });
}

/**
 * Runs a command inside the trixie tree. The private mount namespace holds the /proc mount, so it
 * vanishes with the process however that ends, and never shows on the host or in a machine
 * booted from the same tree. The environment is fixed so the host's SYSTEMD_* variables and
 * locale cannot change what systemd prints.
 */
async function inTrixie(args: string[], env: Record<string, string> = {}) {
  const r = await execa(
    'unshare',
    ['--mount', '--propagation', 'private', 'chroot', trixieRoot,
      '/bin/sh', '-c', 'mount -t proc proc /proc && exec "$@"', 'sh', ...args],
    {
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', TZ: 'UTC', ...env },
      extendEnv: false,
      reject: false,
      all: true,
      timeout: 60_000,
    },
  );
  return { exitCode: r.exitCode ?? -1, output: r.all ?? '' };
}

const UNIT_NAME = /^[^/]+\.(service|timer|socket|target|path|mount|slice)$/;

/**
 * `systemd-analyze verify --man=no` over the given units, which are written to one directory:
 * systemd loads every unit beside the ones named, so units that reference each other (a timer and
 * its service, a container and its volume's service) must be given together. A dependency
 * (`Requires=`) on a unit neither given nor in the tree fails. With `user`, the units are checked
 * as a user manager's (XDG_RUNTIME_DIR is then required, so one is provided).
 */
export async function systemdAnalyzeVerify(files: UnitFile[], opts: { user?: boolean } = {}): Promise<VerifyResult> {
  return withTempDir(path.join(trixieRoot, 'tmp'), async (dir) => {
    const inside = (p: string) => '/' + path.relative(trixieRoot, p);
    const units = writeUnits(path.join(dir, 'units'), files, (name) => UNIT_NAME.test(name));
    const runtime = path.join(dir, 'run');
    fs.mkdirSync(runtime, { mode: 0o700 });
    const { exitCode, output } = await inTrixie(
      ['systemd-analyze', 'verify', '--man=no', ...(opts.user ? ['--user'] : []), ...units.map(inside)],
      opts.user ? { XDG_RUNTIME_DIR: inside(runtime) } : {},
    );
    return { ok: exitCode === 0 && output.trim() === '', exitCode, output };
  });
}

/** `systemd-analyze calendar`, the check for an `OnCalendar=` value. */
export async function systemdCalendar(expr: string): Promise<CalendarResult> {
  const { exitCode, output } = await inTrixie(['systemd-analyze', 'calendar', '--iterations=1', expr]);
  const normalized = exitCode === 0 ? (/^\s*Normalized form: (.*)$/m.exec(output)?.[1] ?? '') : '';
  return { ok: exitCode === 0 && normalized !== '', normalized, output };
}

/**
 * test/support/trixie.sh with the given arguments (`base-image`, `build CONTEXT TAG ...`,
 * `run-podman ...`): Podman 5.4 from the trixie tree, with the host's network. It waits while
 * another user of the tree holds the tree's lock, and must not overlap a machine booted from it.
 */
export async function trixie(args: string[], opts: { timeoutMs?: number } = {}) {
  const r = await execa('bash', ['--norc', '--noprofile', trixieScript, ...args], {
    stdin: 'ignore',
    reject: false,
    all: true,
    timeout: opts.timeoutMs ?? 600_000,
  });
  return { exitCode: r.exitCode ?? -1, output: r.all ?? '' };
}
