/** One problem with a config value: where it is, what it was, and what to do about it. */
export interface ConfigIssue {
  /** Dotted path of the field at fault, e.g. `backup.schedule`; empty for the config itself. */
  readonly path: string;
  /** The value as given (undefined when the field is missing). */
  readonly value: unknown;
  /** What is wrong and how to fix it, in one sentence. */
  readonly message: string;
}

/**
 * Every problem found in a config, reported at once. Recognise it with `isConfigError`, not by
 * its text; `issues` carries the structured detail.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'PG_QUADLET_CONFIG';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const lines = issues.map(formatIssue);
    super(`invalid pg-quadlet config (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n  ${lines.join('\n  ')}`);
    this.issues = issues;
  }
}

export function isConfigError(error: unknown): error is ConfigError {
  return error instanceof Error && (error as { code?: unknown }).code === 'PG_QUADLET_CONFIG';
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
