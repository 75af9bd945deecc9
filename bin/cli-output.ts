/** How the command line reports failure: one line a person can act on per failure, and a
 * documented exit code; `--verbose` adds what a failed host command printed, and the causes. */
import { formatIssue, isConfigError, isPgQuadletError } from '../lib/core/errors.js';
import type { CommandError } from '../lib/host/runner.js';

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** yargs' failure handler: a usage message (from yargs) or an error thrown by a command. */
export function fail(message: string | undefined, thrown: unknown): void {
  const verbose = process.argv.includes('--verbose');
  // yargs passes a check()'s refusal as a string in the error's place: that is a usage message.
  const error = thrown instanceof Error ? thrown : undefined;
  if (error && isConfigError(error)) {
    process.stderr.write(`pg-quadlet: the config is invalid:\n${error.issues.map((issue) => `  ${formatIssue(issue)}\n`).join('')}`);
    process.exit(EXIT.usage);
  }
  if (error) {
    process.stderr.write(`pg-quadlet: ${error.message}\n`);
    if (verbose) process.stderr.write(detail(error));
    else if (!isPgQuadletError(error)) process.stderr.write('(an unexpected error: run again with --verbose for its details)\n');
    const usage = isPgQuadletError(error, 'PG_QUADLET_CONFIG_SOURCE') || isPgQuadletError(error, 'PG_QUADLET_NOT_CONFIRMED');
    process.exit(usage ? EXIT.usage : EXIT.failure);
  }
  process.stderr.write(`pg-quadlet: ${message ?? 'invalid arguments'}\nRun "pg-quadlet --help" for usage.\n`);
  process.exit(EXIT.usage);
}

/** What a failed host command printed, the chain of causes, and the stack, for `--verbose`. */
function detail(error: Error): string {
  const lines: string[] = [];
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    if (current !== error) lines.push(`caused by: ${current.message}`);
    // Recognised by its marker: importing the class would load execa into every command.
    const result = isPgQuadletError(current, 'PG_QUADLET_COMMAND') ? (current as CommandError).result : undefined;
    if (result) {
      const { stdout, stderr, exitCode } = result;
      lines.push(`--- ${(current as CommandError).command} (exit ${exitCode}) ---`);
      if (stdout.trim()) lines.push('stdout:', stdout.trimEnd());
      if (stderr.trim()) lines.push('stderr:', stderr.trimEnd());
    }
  }
  lines.push(error.stack ?? '');
  return `${lines.join('\n')}\n`;
}
