// Driving a container that test/support/trixie.sh runs: its podman is reached only through the
// script, which holds the tree's lock while the container runs, so the container's processes are
// found and entered from the host, by a marker in their environment.
import { execa } from 'execa';
import fs from 'node:fs';
import { trixieScript } from './real-tools.js';

export const trixie = (args: string[]) => execa('bash', [trixieScript, ...args], { all: true, reject: false });

export async function trixieMust(args: string[]): Promise<string> {
  const result = await trixie(args);
  if (result.exitCode !== 0) throw new Error(`trixie.sh ${args.join(' ')} failed:\n${result.all}`);
  return String(result.stdout);
}

/** The host PID of the container's process whose environment holds the marker (and, if given,
 * whose command is `command`). */
export function findProcess(marker: string, command?: string): number | undefined {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = fs.readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (environ.includes(marker) && (command === undefined || cmdline.startsWith(`${command}\0`))) return Number(entry);
    } catch {
      // gone, or not ours to read
    }
  }
  return undefined;
}

/** /proc/PID/status as fields (Uid, Groups, CapEff, ...). */
export function processStatus(pid: number): Record<string, string> {
  return Object.fromEntries(
    fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').filter(Boolean).map((line) => {
      const i = line.indexOf(':');
      return [line.slice(0, i), line.slice(i + 1).trim()];
    }),
  );
}

/** Runs a command in the container as `podman exec` would: its namespaces, UID 999, no
 * capabilities, its environment. */
export function execInContainer(pid: number, command: string[]) {
  const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return execa('nsenter', [
    `--target=${pid}`, '--mount', '--uts', '--ipc', '--net', '--pid', '--root', '--wd', '--',
    'setpriv', '--reuid=999', '--regid=999', '--init-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--',
    'env', '-i', ...env, ...command,
  ], { reject: false, all: true });
}

/** What a test's container leaves: the volumes and secret it ran with, and its host directory. */
export interface TestContainer {
  readonly run: ReturnType<typeof trixie> | undefined;
  readonly pid: number | undefined;
  readonly names: { readonly data: string; readonly backups: string; readonly secret: string };
  readonly hostDir: string;
}

/** After a test, whatever ended it: a container still running is killed (its PID 1 is the
 * server), then its volumes, secret and host directory go. */
export async function removeTestContainer({ run, pid, names, hostDir }: TestContainer): Promise<void> {
  if (run && run.exitCode === null) {
    if (pid) process.kill(pid, 'SIGKILL');
    await Promise.race([run, new Promise((resolve) => setTimeout(resolve, 30_000))]);
  }
  await trixie(['run-podman', 'volume', 'rm', '--force', names.data, names.backups]);
  await trixie(['run-podman', 'secret', 'rm', '--ignore', names.secret]);
  fs.rmSync(hostDir, { recursive: true, force: true });
}
