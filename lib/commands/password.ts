/**
 * `password`: gives the role a new password everywhere it lives, in an order that never leaves
 * two places disagreeing for long: the server (ALTER ROLE over the socket, by password.sh), the
 * Podman secret (what the next start mounts), the generated-password file, then the pool, which
 * reads the role's new SCRAM secret and reloads. Sessions already open are not affected. A
 * failure at any step puts every step already done back, in reverse, so the old password works
 * everywhere again. The password travels only on standard input.
 */
import { SCRIPT } from '../core/container-contract.js';
import { PgQuadletError } from '../core/errors.js';
import { unitNames } from '../core/render.js';
import type { Context } from '../context.js';
import { describeAction, performAction, type Action } from '../host/actions.js';
import { Podman } from '../host/podman.js';
import { readIfExists } from '../host/unit-files.js';
import { generatePassword, passwordFile, type PasswordSource } from './install.js';

export interface PasswordOptions {
  /** The new password; generated (and shown once) when not given. */
  readonly password?: PasswordSource;
  readonly dryRun?: boolean;
  readonly onProgress?: (line: string) => void;
}

export interface PasswordResult {
  readonly actions: string[];
  /** A generated password, where it was stored, shown once. */
  readonly generatedPassword?: { readonly file: string; readonly value: string };
  /** Whether the running pool was given the new secret. */
  readonly pool: boolean;
  readonly dryRun: boolean;
}

/** One step of the rotation and the step that undoes it. */
interface Step {
  readonly forward: Action;
  readonly back: Action;
}

export async function password(context: Context, options: PasswordOptions = {}): Promise<PasswordResult> {
  const { config, paths, runner } = context;
  const podman = new Podman(runner);
  const dryRun = options.dryRun ?? false;
  if (!dryRun) await podman.requireRunning(config.name, config.rootless);
  const pool = unitNames(config).pool !== undefined && (await podman.isRunning(poolContainer(config.name)));
  const source = options.password ?? { kind: 'generate' };
  const next = source.kind === 'value' ? source.value : generatePassword();
  // The old password is what every step is put back to; a dry run needs none.
  const old = dryRun ? '' : await podman.secretValue(config.passwordSecret);
  const file = passwordFile(config, paths.stateDir);
  const fileBefore = readIfExists(file);

  const inServer = (value: string): Action => ({
    kind: 'run',
    argv: ['podman', 'exec', '--interactive', config.name, SCRIPT.password],
    input: value,
    inputIs: 'the password',
    note: 'ALTER ROLE over the socket',
  });
  const inSecret = (value: string): Action => ({
    kind: 'run',
    argv: ['podman', 'secret', 'create', '--replace', config.passwordSecret, '-'],
    input: value,
    inputIs: 'the password',
  });
  const inPool = (value: string): Action => ({
    kind: 'run',
    argv: ['podman', 'exec', '--interactive', poolContainer(config.name), SCRIPT.pool, 'reload'],
    input: value,
    inputIs: 'the password',
    note: "PgBouncer reads the role's new SCRAM secret",
  });
  const steps: Step[] = [
    { forward: inServer(next), back: inServer(old) },
    { forward: inSecret(next), back: inSecret(old) },
  ];
  if (source.kind === 'generate' || fileBefore !== undefined) {
    steps.push({
      forward: { kind: 'write-private', path: file, content: `${next}\n`, what: 'the new password' },
      back: fileBefore === undefined ? { kind: 'remove', path: file } : { kind: 'write-private', path: file, content: fileBefore, what: 'the old password' },
    });
  }
  // Last: the pool reads the role's secret from the server, with the password.
  if (pool) steps.push({ forward: inPool(next), back: inPool(old) });

  const actions = steps.map((step) => describeAction(step.forward));
  if (dryRun) return { actions, pool, dryRun };
  const progress = options.onProgress ? { onProgress: options.onProgress } : {};
  const done: Step[] = [];
  for (const step of steps) {
    try {
      await performAction(step.forward, runner, progress);
      done.push(step);
    } catch (error) {
      // A failed step changed nothing that counts: the pool's reload signals PgBouncer last, and
      // a restart renders its files anew from the server.
      const failedBack = await putBack(done.reverse(), context, options.onProgress);
      const state = failedBack.length === 0 ? 'the old password works everywhere again' : `putting back failed at: ${failedBack.join('; ')}: set the password again with pg-quadlet password`;
      throw new PgQuadletError('PG_QUADLET_COMMAND', `the password was not changed (${(error as Error).message}); ${state}`, { cause: error });
    }
  }
  return { actions, ...(source.kind === 'generate' ? { generatedPassword: { file, value: next } } : {}), pool, dryRun };
}

/** Undoes the steps given, in that order, each even when one before it fails; returns the failures. */
async function putBack(steps: readonly Step[], { runner }: Context, onProgress?: (line: string) => void): Promise<string[]> {
  const failed: string[] = [];
  for (const step of steps) {
    await performAction(step.back, runner, onProgress ? { onProgress: (line) => onProgress(`putting back: ${line}`) } : {}).catch((error: Error) => {
      failed.push(`${describeAction(step.back)} (${error.message})`);
    });
  }
  return failed;
}

function poolContainer(name: string): string {
  return `${name}-pool`;
}

export function formatPassword(result: PasswordResult): string {
  const lines = [result.dryRun ? 'Would do (dry run, nothing changed):' : 'Done:', ...result.actions.map((action) => `  - ${action}`)];
  if (!result.dryRun) {
    lines.push(`The role's password is changed in the server, the secret${result.pool ? ' and the pool' : ''}; open sessions carry on.`);
  }
  if (result.generatedPassword) {
    lines.push(
      `The new password was generated and stored in ${result.generatedPassword.file} (readable by its owner only).`,
      `It is shown this once: ${result.generatedPassword.value}`,
    );
  }
  return lines.join('\n');
}
