/**
 * Core: how a value is written into a systemd or Quadlet unit file. Every value rendered into a unit
 * passes through `unitValue`, so quoting and escaping live in this one place.
 */
import { PgQuadletError } from './errors.js';

/** Where the value lands, which decides what systemd would otherwise interpret in it. */
export type ValueContext =
  /** A plain setting such as `Description=`: `%` starts a specifier. */
  | 'plain'
  /** A Quadlet `[Container]` value: Quadlet copies it into `ExecStart=`, where systemd also
   * expands `$NAME`, so `$` is escaped as well. */
  | 'command';

/** Characters that never need quotes in a word of a systemd command line or list. */
const BARE_WORD = /^[A-Za-z0-9_@%+=:,./\[\]$-]+$/;
// C0 controls, DEL and the C1 range: any of them could end a line or fool a terminal.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** A value validation should have refused reached a unit file: a bug, never a user's error. */
export class UnitValueError extends PgQuadletError {
  override readonly name = 'UnitValueError';

  constructor(message: string) {
    super('PG_QUADLET_INTERNAL', message);
  }
}

export function hasControlCharacter(value: string): boolean {
  return CONTROL.test(value);
}

/**
 * Formats a setting that systemd takes as one opaque value (`Description=`, `Image=`). Refuses
 * what would change the line's meaning: a control character (a newline starts a new directive),
 * a trailing backslash (continues the line), white space at either end (silently stripped).
 */
export function unitValue(value: string, context: ValueContext = 'plain'): string {
  assertWritable(value);
  if (value === '' || value.trim() !== value || value.endsWith('\\')) {
    throw new UnitValueError(`refusing to write an empty, padded or backslash-ended value into a unit file: ${JSON.stringify(value)}`);
  }
  return escapeSpecials(value, context);
}

/**
 * Formats a setting that systemd splits into words (`Exec=`, `Environment=`): each word is
 * double-quoted by systemd's rules when it holds white space, quotes or backslashes.
 */
export function unitWords(words: readonly string[], context: ValueContext = 'plain'): string {
  if (words.length === 0) throw new UnitValueError('a unit setting needs at least one word');
  return words
    .map((word) => {
      assertWritable(word);
      const escaped = escapeSpecials(word, context);
      return BARE_WORD.test(escaped) ? escaped : quoteWord(escaped);
    })
    .join(' ');
}

function assertWritable(value: string): void {
  if (hasControlCharacter(value)) {
    throw new UnitValueError(`refusing to write a control character into a unit file: ${JSON.stringify(value)}`);
  }
}

function escapeSpecials(word: string, context: ValueContext): string {
  const specifiers = word.replaceAll('%', '%%');
  return context === 'command' ? specifiers.replaceAll('$', '$$$$') : specifiers;
}

function quoteWord(word: string): string {
  return `"${word.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}
