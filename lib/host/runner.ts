/**
 * Host: how pg-quadlet runs systemctl, podman and the rest. One small interface, so the commands
 * run in-process against a recording stand-in in tests, and for real on execa.
 */
import { execa } from 'execa';
import { PgQuadletError } from '../core/errors.js';

export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Written to the command's standard input: how secrets are passed, never as arguments. */
  readonly input?: string;
  /** Sees each line of standard error as it comes (progress of a long command); it is kept in the result too. */
  readonly onStderrLine?: (line: string) => void;
  /** The same for standard output. */
  readonly onStdoutLine?: (line: string) => void;
}

export interface Runner {
  run(file: string, args: readonly string[], options?: RunOptions): Promise<CommandResult>;
}

/** A command that could not run, or failed: the message is one line naming it and its last
 * error line; `result` keeps all of its output for `--verbose`. */
export class CommandError extends PgQuadletError {
  override readonly name = 'CommandError';

  constructor(
    readonly command: string,
    readonly result: CommandResult | undefined,
    reason: string,
    options?: ErrorOptions,
  ) {
    super('PG_QUADLET_COMMAND', `${command}: ${reason}`, options);
  }
}

/** Runs for real; `log` (for `--verbose`) sees each command line, never its input. */
export function execaRunner(log?: (line: string) => void): Runner {
  return {
    async run(file, args, options = {}) {
      log?.(`$ ${[file, ...args].join(' ')}`);
      // Node gives a child a socket as standard input, and `podman secret create NAME -` refuses
      // anything but a pipe: input goes through `cat`, which hands the command a real one.
      const piped = options.input !== undefined;
      const { onStderrLine, onStdoutLine } = options;
      const result = await execa(piped ? 'sh' : file, piped ? ['-c', 'cat | "$@"', 'sh', file, ...args] : args, {
        reject: false,
        stripFinalNewline: true,
        input: options.input ?? '',
        ...(onStderrLine ? { stderr: function* (line: unknown) { onStderrLine(String(line)); yield line; } } : {}),
        ...(onStdoutLine ? { stdout: function* (line: unknown) { onStdoutLine(String(line)); yield line; } } : {}),
      });
      if (result.exitCode === undefined) {
        const reason = result.code === 'ENOENT' ? 'not found: is it installed and on PATH?' : (result.originalMessage ?? result.shortMessage);
        throw new CommandError(file, undefined, reason ?? 'could not run', { cause: result });
      }
      return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
    },
  };
}

/** The last line a failed command printed: what went wrong, usually. */
export function lastLine(result: CommandResult): string {
  return (result.stderr || result.stdout).trim().split('\n').at(-1) ?? '';
}

/** Runs a command that must succeed, and returns its output. */
export async function runChecked(runner: Runner, file: string, args: readonly string[], options?: RunOptions): Promise<string> {
  const result = await runner.run(file, args, options);
  if (result.exitCode !== 0) {
    const detail = lastLine(result);
    throw new CommandError(`${file} ${args.join(' ')}`, result, `exit ${result.exitCode}${detail ? `: ${detail}` : ''}`);
  }
  return result.stdout;
}

/** Whether a command-line tool is there at all (a host without podman, say). */
export function isNotFound(error: unknown): boolean {
  return error instanceof CommandError && error.result === undefined && /not found/.test(error.message);
}
