/** How the command line reports failure: one line a person can act on, and a documented code. */
import { formatIssue, isConfigError } from './errors.js';

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** yargs' failure handler: a usage message (from yargs) or an error thrown by a command. */
export function fail(message: string | undefined, error: Error | undefined): void {
  if (error && isConfigError(error)) {
    process.stderr.write(`pg-quadlet: the config is invalid:\n${error.issues.map((issue) => `  ${formatIssue(issue)}\n`).join('')}`);
    process.exit(EXIT.usage);
  }
  if (error) {
    process.stderr.write(`pg-quadlet: ${error.message}\n`);
    process.exit(EXIT.failure);
  }
  process.stderr.write(`pg-quadlet: ${message ?? 'invalid arguments'}\nRun "pg-quadlet --help" for usage.\n`);
  process.exit(EXIT.usage);
}
