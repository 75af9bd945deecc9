/**
 * Host: what a command changes on the host, as data. A command makes its plan, a list of actions;
 * `describeAction` is the one text a dry run prints and progress shows, and `performAction` the
 * one way each is carried out, so the dry run is the plan that runs.
 */
import { rmSync } from 'node:fs';
import { writeFileAtomic } from './atomic-file.js';
import { CommandError, lastLine, type Runner } from './runner.js';
import { applyFiles, type FileChange } from './unit-files.js';

export type Action =
  /** A command line. `input` goes to its standard input, and is described, never shown, by `inputIs`. */
  | {
      readonly kind: 'run';
      readonly argv: readonly [string, ...string[]];
      readonly input?: string;
      readonly inputIs?: string;
      /** Said after the command line, e.g. what it waits for. */
      readonly note?: string;
      /** Standard error that means there was nothing to do (stopping a unit that is not loaded). */
      readonly nothingToDo?: RegExp;
      /** Output lines worth showing as progress (a build's steps), with the time since the start. */
      readonly progress?: RegExp;
    }
  /** Unit files, written all or none (unit-files.ts). */
  | { readonly kind: 'write-units'; readonly changes: readonly FileChange[]; readonly failAfter?: number }
  /** A file only its owner may read, such as a generated password. */
  | { readonly kind: 'write-private'; readonly path: string; readonly content: string; readonly what: string }
  | { readonly kind: 'remove'; readonly path: string };

export function systemctl(rootless: boolean, ...args: string[]): readonly [string, ...string[]] {
  return rootless ? ['systemctl', '--user', ...args] : ['systemctl', ...args];
}

export function describeAction(action: Action): string {
  switch (action.kind) {
    case 'run': {
      const input = action.inputIs ? ` (${action.inputIs} on standard input)` : '';
      return `${action.argv.join(' ')}${input}${action.note ? ` (${action.note})` : ''}`;
    }
    case 'write-units':
      return `write ${action.changes.filter((change) => change.status !== 'unchanged').map((change) => change.path).join(', ')}`;
    case 'write-private':
      return `store ${action.what} in ${action.path} (mode 0600)`;
    case 'remove':
      return `remove ${action.path}`;
  }
}

export interface PerformOptions {
  /** Told of each action as it starts, and every few seconds while a long one runs. */
  readonly onProgress?: (line: string) => void;
}

export async function performAction(action: Action, runner: Runner, options: PerformOptions = {}): Promise<void> {
  const progress = options.onProgress ?? (() => {});
  const description = describeAction(action);
  progress(description);
  switch (action.kind) {
    case 'run': {
      const [file, ...args] = action.argv;
      const started = Date.now();
      const show = action.progress;
      const onLine = show ? (line: string) => void (show.test(line) && progress(`${line.trim()} (${Math.round((Date.now() - started) / 1000)} s)`)) : undefined;
      const result = await withHeartbeat(progress, description, () =>
        runner.run(file, args, { ...(action.input === undefined ? {} : { input: action.input }), ...(onLine ? { onStdoutLine: onLine, onStderrLine: onLine } : {}) }),
      );
      if (result.exitCode !== 0 && !action.nothingToDo?.test(result.stderr)) {
        const detail = lastLine(result);
        throw new CommandError(action.argv.join(' '), result, `exit ${result.exitCode}${detail ? `: ${detail}` : ''}`);
      }
      return;
    }
    case 'write-units':
      applyFiles(action.changes, action.failAfter);
      return;
    case 'write-private':
      writeFileAtomic(action.path, action.content, 0o600);
      return;
    case 'remove':
      rmSync(action.path, { force: true });
      return;
  }
}

/** Carries out a plan in order, or (dry run) only describes it; returns the descriptions. */
export async function performPlan(plan: readonly Action[], runner: Runner, options: PerformOptions & { readonly dryRun?: boolean } = {}): Promise<string[]> {
  if (!options.dryRun) for (const action of plan) await performAction(action, runner, options);
  return plan.map(describeAction);
}

/** Reports every few seconds while a long step runs, so a first start's initialization does not
 * look like a hang. */
async function withHeartbeat<T>(progress: (line: string) => void, what: string, run: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const timer = setInterval(() => progress(`${what}: still running (${Math.round((Date.now() - started) / 1000)} s)`), 5000);
  try {
    return await run();
  } finally {
    clearInterval(timer);
  }
}
