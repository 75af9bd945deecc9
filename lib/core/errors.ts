/**
 * Core: the errors pg-quadlet throws. Each is recognised by its `code` (a marker that survives
 * two copies of the package, unlike `instanceof`), says in one line what failed and what to do,
 * and keeps what caused it as `cause`.
 */

export type ErrorCode =
  /** The config is invalid: `issues` lists every problem. */
  | 'PG_QUADLET_CONFIG'
  /** A backup schedule no timer could run (validation makes it a config issue). */
  | 'PG_QUADLET_SCHEDULE'
  /** A config file or `--set` flag cannot be read. */
  | 'PG_QUADLET_CONFIG_SOURCE'
  /** A host command (podman, systemctl, ...) could not run or failed: `command` and its output. */
  | 'PG_QUADLET_COMMAND'
  /** pg-quadlet will not do what was asked, and says why and what to do instead. */
  | 'PG_QUADLET_REFUSED'
  /** Asked before a destructive step, and not answered yes (nor given --yes). */
  | 'PG_QUADLET_NOT_CONFIRMED'
  /** A command needs the running container, and it is not running. */
  | 'PG_QUADLET_NOT_RUNNING'
  /** A value that validation should have stopped reached a unit file or a template: a bug. */
  | 'PG_QUADLET_INTERNAL';

export class PgQuadletError extends Error {
  override readonly name: string = 'PgQuadletError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function isPgQuadletError(error: unknown, code?: ErrorCode): error is PgQuadletError {
  if (!(error instanceof Error)) return false;
  const found = (error as { code?: unknown }).code;
  return typeof found === 'string' && found.startsWith('PG_QUADLET_') && (code === undefined || found === code);
}

/** pg-quadlet will not do what was asked; the message says why and what to do instead. */
export class RefusedError extends PgQuadletError {
  override readonly name = 'RefusedError';

  constructor(message: string, options?: ErrorOptions) {
    super('PG_QUADLET_REFUSED', message, options);
  }
}

/** A destructive step was not confirmed: nothing was done. */
export class NotConfirmedError extends PgQuadletError {
  override readonly name = 'NotConfirmedError';

  constructor(what: string) {
    super('PG_QUADLET_NOT_CONFIRMED', `nothing was ${what} (answer yes, or pass --yes)`);
  }
}

/** One problem with a config value: where it is, what it was, and what to do about it. */
export interface ConfigIssue {
  /** Dotted path of the field at fault, e.g. `backup.schedule`; empty for the config itself. */
  readonly path: string;
  /** The value as given (undefined when the field is missing). */
  readonly value: unknown;
  /** What is wrong and how to fix it, in one sentence. */
  readonly message: string;
}

/** Every problem found in a config, reported at once; `issues` carries the structured detail. */
export class ConfigError extends PgQuadletError {
  override readonly name = 'ConfigError';

  constructor(
    readonly issues: readonly ConfigIssue[],
    options?: ErrorOptions,
  ) {
    const lines = issues.map(formatIssue);
    super('PG_QUADLET_CONFIG', `invalid pg-quadlet config (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n  ${lines.join('\n  ')}`, options);
  }
}

export function isConfigError(error: unknown): error is ConfigError {
  return isPgQuadletError(error, 'PG_QUADLET_CONFIG');
}

export function formatIssue(issue: ConfigIssue): string {
  const where = issue.path === '' ? 'config' : issue.path;
  const shown = issue.value === undefined ? '' : ` = ${showValue(issue.value)}`;
  return `${where}${shown}: ${issue.message}`;
}

function showValue(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : safeJson(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
