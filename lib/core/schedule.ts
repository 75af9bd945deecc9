/**
 * Core: backup schedules: the spec's 5-field cron (`0 2 * * *`) converted to systemd `OnCalendar=`
 * expressions, or a systemd calendar expression, checked by the rules of systemd's own parser
 * (src/basic/calendarspec.c, systemd 257) and passed on as it is.
 */
import { PgQuadletError } from './errors.js';

/** A schedule no timer could run; validation turns it into a `backup.schedule` issue. */
export class ScheduleError extends PgQuadletError {
  override readonly name = 'ScheduleError';

  constructor(message: string) {
    super('PG_QUADLET_SCHEDULE', message);
  }
}

interface Field {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const MINUTE: Field = { name: 'minute', min: 0, max: 59 };
const HOUR: Field = { name: 'hour', min: 0, max: 23 };
const DAY_OF_MONTH: Field = { name: 'day of month', min: 1, max: 31 };
const MONTH: Field = {
  name: 'month',
  min: 1,
  max: 12,
  names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
};
// Cron counts Sunday as 0 and also as 7; 7 is folded onto 0 after parsing.
const DAY_OF_WEEK: Field = { name: 'day of week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] };

const MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const SYSTEMD_WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;
const CRON_TOKEN = /^[0-9A-Za-z*,/-]+$/;
// systemd's "@SECONDS" (UNIX time), which is no cron macro.
const UNIX_TIME = /^@\d/;
const NEITHER = 'is neither 5-field cron ("minute hour day-of-month month day-of-week") nor a systemd calendar expression';

/** Validation and rendering both ask for the same schedule: it is read once per process. */
const converted = new Map<string, readonly string[]>();

/**
 * The `OnCalendar=` values for a schedule. Several values mean "any of them" (systemd ORs
 * repeated `OnCalendar=` lines). Throws `ScheduleError` with the reason when it is invalid.
 */
export function toOnCalendar(schedule: string): string[] {
  let values = converted.get(schedule);
  if (values === undefined) {
    values = convert(schedule);
    converted.set(schedule, values);
  }
  return [...values];
}

function convert(schedule: string): string[] {
  const text = schedule.trim();
  if (text === '') throw new ScheduleError('is empty: give 5-field cron such as "0 2 * * *" or a systemd calendar expression');
  if (text.startsWith('@') && !UNIX_TIME.test(text)) {
    const expanded = MACROS[text.toLowerCase()];
    if (expanded === undefined) {
      throw new ScheduleError(`"${text}" is not a schedule a timer can run (use one of ${Object.keys(MACROS).join(', ')})`);
    }
    return cronToOnCalendar(expanded);
  }
  const tokens = text.split(/\s+/);
  const cronLike = tokens.every((token) => CRON_TOKEN.test(token)) && !text.includes(':');
  if (cronLike && tokens.length === 5) return cronToOnCalendar(text);
  if (cronLike && tokens.length > 3) {
    throw new ScheduleError(`looks like cron but has ${tokens.length} fields: cron takes 5 ("minute hour day-of-month month day-of-week")`);
  }
  checkCalendarExpression(text);
  return [text];
}

function cronToOnCalendar(cron: string): string[] {
  const tokens = cron.split(/\s+/) as [string, string, string, string, string];
  const [minuteText, hourText, domText, monthText, dowText] = tokens;
  const minutes = parseField(minuteText, MINUTE);
  const hours = parseField(hourText, HOUR);
  const days = parseField(domText, DAY_OF_MONTH);
  const months = parseField(monthText, MONTH);
  const weekdays = new Set([...parseField(dowText, DAY_OF_WEEK)].map((day) => day % 7));

  const time = `${formatComponent(hours, HOUR)}:${formatComponent(minutes, MINUTE)}:00`;
  const date = (daysOfMonth: ReadonlySet<number>) =>
    `*-${formatComponent(months, MONTH)}-${formatComponent(daysOfMonth, DAY_OF_MONTH)}`;
  const allDays = fullSet(DAY_OF_MONTH);

  // Cron (Vixie, cronie) ORs day-of-month and day-of-week when both fields are restricted, and
  // ANDs them when either starts with "*"; systemd always ANDs, so the OR becomes two lines.
  const domStar = domText.startsWith('*');
  const dowStar = dowText.startsWith('*');
  const weekdayPrefix = weekdays.size === 7 ? '' : `${formatWeekdays(weekdays)} `;
  if (!domStar && !dowStar) {
    const byWeekday = `${formatWeekdays(weekdays)} ${date(allDays)} ${time}`;
    return isReachable(days, months) ? [byWeekday, `${date(days)} ${time}`] : [byWeekday];
  }
  if (!isReachable(days, months)) throw new ScheduleError(`"${cron}" never runs: no chosen month has the chosen day of month`);
  return [`${weekdayPrefix}${date(days)} ${time}`];
}

function parseField(text: string, field: Field): Set<number> {
  const values = new Set<number>();
  for (const element of text.split(',')) {
    if (element === '') throw new ScheduleError(`${field.name} "${text}" has an empty list element`);
    const [range, stepText, extra] = element.split('/');
    if (extra !== undefined || range === undefined) throw new ScheduleError(`${field.name} "${element}" has more than one "/"`);
    const step = stepText === undefined ? 1 : parseNumber(stepText, field, 'step');
    if (step < 1) throw new ScheduleError(`${field.name} step in "${element}" must be at least 1`);
    let low: number;
    let high: number;
    if (range === '*') {
      low = field.min;
      high = field.max === 7 ? 6 : field.max;
    } else if (range.includes('-')) {
      const [lowText, highText, rest] = range.split('-');
      if (rest !== undefined || !lowText || !highText) throw new ScheduleError(`${field.name} range "${range}" must be "low-high"`);
      low = parseValue(lowText, field);
      high = parseValue(highText, field);
      if (low > high) throw new ScheduleError(`${field.name} range "${range}" runs backwards: write the lower value first`);
    } else {
      low = parseValue(range, field);
      // "a/n" means "from a to the end, every n": cronie's reading.
      high = stepText === undefined ? low : field.max;
    }
    for (let value = low; value <= high; value += step) values.add(value);
  }
  return values;
}

function parseValue(text: string, field: Field): number {
  const nameIndex = field.names?.indexOf(text.toLowerCase()) ?? -1;
  if (nameIndex >= 0) return field === MONTH ? nameIndex + 1 : nameIndex;
  return parseNumber(text, field, 'value');
}

function parseNumber(text: string, field: Field, what: 'value' | 'step'): number {
  if (!/^\d+$/.test(text)) {
    const names = field.names ? ` or a name (${field.names.join(', ')})` : '';
    throw new ScheduleError(`${field.name} ${what} "${text}" is not a number${what === 'value' ? names : ''}`);
  }
  const value = Number(text);
  if (what === 'value' && (value < field.min || value > field.max)) {
    throw new ScheduleError(`${field.name} ${value} is out of range ${field.min}-${field.max}`);
  }
  return value;
}

function fullSet(field: Field): Set<number> {
  const values = new Set<number>();
  for (let value = field.min; value <= field.max; value++) values.add(value);
  return values;
}

/** One calendar component: `*`, a repetition `start/step`, or a list with `a..b` runs. */
function formatComponent(values: ReadonlySet<number>, field: Field): string {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === field.max - field.min + 1) return '*';
  const pad = (value: number) => String(value).padStart(2, '0');
  const first = sorted[0] as number;
  const step = sorted.length > 2 ? (sorted[1] as number) - first : 0;
  const isRepetition =
    step > 1 && sorted.every((value, index) => value === first + index * step) && (sorted.at(-1) as number) + step > field.max;
  if (isRepetition) return `${pad(first)}/${step}`;
  return runs(sorted)
    .map(([low, high]) => (low === high ? pad(low) : high === low + 1 ? `${pad(low)},${pad(high)}` : `${pad(low)}..${pad(high)}`))
    .join(',');
}

function formatWeekdays(days: ReadonlySet<number>): string {
  // systemd weeks start on Monday, so Sunday sorts last and Mon..Sun can be one run.
  const mondayFirst = [...days].map((day) => (day === 0 ? 7 : day)).sort((a, b) => a - b);
  const name = (day: number) => SYSTEMD_WEEKDAYS[day % 7] as string;
  return runs(mondayFirst)
    .map(([low, high]) => (low === high ? name(low) : high === low + 1 ? `${name(low)},${name(high)}` : `${name(low)}..${name(high)}`))
    .join(',');
}

function runs(sorted: readonly number[]): Array<[number, number]> {
  const result: Array<[number, number]> = [];
  for (const value of sorted) {
    const last = result.at(-1);
    if (last && value === last[1] + 1) last[1] = value;
    else result.push([value, value]);
  }
  return result;
}

function isReachable(days: ReadonlySet<number>, months: ReadonlySet<number>): boolean {
  return [...months].some((month) => [...days].some((day) => day <= (DAYS_IN_MONTH[month - 1] as number)));
}

// ---------------------------------------------------------------------------------------------
// systemd calendar expressions (systemd.time(7), "CALENDAR EVENTS"). The functions below follow
// calendar_spec_from_string() and its helpers step by step, so that a schedule passes here exactly
// when systemd 257 parses it, finds it valid and finds a next elapse for it.
// Where the verdict deliberately differs from systemd's:
// - Time zones: systemd accepts any file under the host's /usr/share/zoneinfo; here the zone must
//   be "UTC" or an IANA "Area/Location" name that Node's time zone data knows (see isTimeZone).
//   So "GMT", "CET", "US/Eastern" or "localtime" are refused, which some hosts take: Debian 13
//   keeps such old names only in its optional tzdata-legacy package. Renamed locations are still
//   judged by Node's data: Europe/Kiev and Asia/Calcutta pass here, and Debian 13 (without
//   tzdata-legacy) refuses them; their current names Europe/Kyiv and Asia/Kolkata work everywhere.
// - systemd also accepts the abbreviations of the host's own zone ("CET", "CEST" on a host set to
//   Europe/Berlin); they are refused here, since they mean nothing on a host in another zone.
// - "Never elapses" is judged by whole days, from yesterday in UTC (see hasDayToCome), and does
//   not model daylight-saving gaps or systemd's give-up after 1000 steps of its search.
// - "@SECONDS" takes digits only; systemd's strtoul() also skips a sign or spaces after the "@".
// ---------------------------------------------------------------------------------------------

/** One list element of a calendar component: `N`, `N/R`, `N..M` or `N..M/R`. */
interface CalendarComponent {
  /** As written, for messages. */
  readonly source: string;
  readonly start: number;
  readonly stop: number | null;
  /** 0 when it does not repeat; a range without `/R` repeats every 1 (every second for seconds). */
  readonly repeat: number;
}

/** A year, month, day, hour, minute or second: its list, or null for `*`. */
type Chain = readonly CalendarComponent[] | null;

interface CalendarSpec {
  /** Bit 0 is Monday, bit 6 Sunday; 0 means any day. */
  weekdays: number;
  year: Chain;
  month: Chain;
  day: Chain;
  /** `~`: the days count back from the end of the month (1 is its last day). */
  endOfMonth: boolean;
  hour: Chain;
  minute: Chain;
  /** In microseconds. */
  second: Chain;
}

interface CalendarField {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Values are kept in units of 1/unit: microseconds for the seconds. */
  readonly unit: number;
}

const MICROSECONDS = 1_000_000;
const INT_MAX = 2 ** 31 - 1;
const CALENDAR_YEAR: CalendarField = { name: 'year', min: 1970, max: 2199, unit: 1 };
const CALENDAR_MONTH: CalendarField = { name: 'month', min: 1, max: 12, unit: 1 };
const CALENDAR_DAY: CalendarField = { name: 'day', min: 1, max: 31, unit: 1 };
// "~" counts back at most 28 days, so that every month has the day.
const CALENDAR_DAY_FROM_END: CalendarField = { name: 'day counted back from the end of the month ("~")', min: 1, max: 28, unit: 1 };
const CALENDAR_HOUR: CalendarField = { name: 'hour', min: 0, max: 23, unit: 1 };
const CALENDAR_MINUTE: CalendarField = { name: 'minute', min: 0, max: 59, unit: 1 };
const CALENDAR_SECOND: CalendarField = { name: 'second', min: 0, max: 60 * MICROSECONDS - 1, unit: MICROSECONDS };
// systemd's CALENDARSPEC_COMPONENTS_MAX: a list may have one element more than this.
const MAX_LIST_ELEMENTS = 240;

// Both in any case: `/i` without `/u` folds ASCII letters only, like systemd's strcaseeq().
// "anually" is a misspelling systemd still takes.
const SHORTHAND =
  /^(?:minutely|hourly|daily|weekly|monthly|quarterly|semiannually|semi-annually|biannually|bi-annually|yearly|annually|anually)$/i;
// Whole names before their abbreviations, as systemd tries them: "Monday" is one name, "Mondy" none.
const WEEKDAY = /monday|mon|tuesday|tue|wednesday|wed|thursday|thu|friday|fri|saturday|sat|sunday|sun/iy;
const WEEKDAY_ORDER = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const AFTER_WEEKDAY = ['', ' ', ',', '-', '.'];
const AFTER_COMPONENT = ['', ' ', ',', '-', '~', ':'];
const DIGITS = /\d+/y;
const UTC_SUFFIX = / utc$/i;
const EXAMPLES = 'e.g. "*-*-* 02:00:00", "Mon..Fri 22:30", "daily"';
const ZONE_EXAMPLES = 'UTC or an IANA name such as Europe/Berlin';

// Node lists one name per zone (all "Area/Location"), without "UTC" and without other names of
// the same zone such as Asia/Kolkata (it lists Asia/Calcutta); Intl.DateTimeFormat knows those
// too, but ignores case, while systemd opens /usr/share/zoneinfo/NAME, where case matters.
const LISTED_ZONES = new Set(['UTC', ...Intl.supportedValuesOf('timeZone')]);
const LISTED_ZONES_LOWER = new Set([...LISTED_ZONES].map((zone) => zone.toLowerCase()));
// The areas every tzdata package installs, and IANA's spelling within what systemd's
// verify_timezone() allows: words of ASCII letters, digits, "_", "-" and "+", each capitalized.
const ZONE_SPELLING = /^(?:Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Etc|Europe|Indian|Pacific)(?:\/[A-Z][\w+-]*)+$/;

class CalendarError extends Error {}

function fail(reason: string): never {
  throw new CalendarError(reason);
}

/** A read position in a calendar expression. */
class Scanner {
  pos = 0;
  constructor(readonly text: string) {}

  // Methods rather than getters: TypeScript would keep a getter's value narrowed after `pos` moves.
  /** The character at the position, '' at the end. */
  char(): string {
    return this.text.charAt(this.pos);
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  lookingAt(prefix: string): boolean {
    return this.text.startsWith(prefix, this.pos);
  }

  /** Consumes and returns what a sticky pattern matches at the position, or null. */
  take(pattern: RegExp): string | null {
    pattern.lastIndex = this.pos;
    const match = pattern.exec(this.text);
    if (match === null) return null;
    this.pos = pattern.lastIndex;
    return match[0];
  }

  /** systemd separates the parts with spaces only (strspn(p, " ")), not tabs. */
  skipSpaces(): void {
    while (this.char() === ' ') this.pos++;
  }

  /** The space-separated word at the position. */
  word(): string {
    const start = this.text.lastIndexOf(' ', this.pos - 1) + 1;
    const end = this.text.indexOf(' ', this.pos);
    return this.text.slice(start, end === -1 ? undefined : end);
  }
}

/** Throws `ScheduleError` unless systemd would take `text` for `OnCalendar=` and ever fire it. */
function checkCalendarExpression(text: string): void {
  let spec: CalendarSpec | null;
  try {
    spec = parseCalendar(text);
  } catch (error) {
    if (error instanceof CalendarError) throw new ScheduleError(`"${text}" ${NEITHER}: ${error.message}`);
    throw error;
  }
  if (spec !== null && !hasDayToCome(spec, Date.now())) {
    throw new ScheduleError(
      `"${text}" never elapses: no day from today to the end of ${CALENDAR_YEAR.max} (where systemd stops looking) matches its weekdays and date; pick a date that exists and is still to come`,
    );
  }
}

/** The expression's weekdays, date and time, checked and normalized; null for a shorthand ("daily"). */
function parseCalendar(text: string): CalendarSpec | null {
  const body = withoutTimeZone(text);
  if (SHORTHAND.test(body)) return null;
  const spec: CalendarSpec = {
    weekdays: 0,
    year: null,
    month: null,
    day: null,
    endOfMonth: false,
    hour: null,
    minute: null,
    second: null,
  };
  const s = new Scanner(body);
  spec.weekdays = parseWeekdays(s);
  if (s.char() === '@') {
    parseUnixTime(s, spec);
  } else {
    parseDate(s, spec);
    parseTime(s, spec);
  }
  return {
    ...spec,
    year: validChain(spec.year, CALENDAR_YEAR),
    month: validChain(spec.month, CALENDAR_MONTH),
    day: validChain(spec.day, spec.endOfMonth ? CALENDAR_DAY_FROM_END : CALENDAR_DAY),
    hour: validChain(spec.hour, CALENDAR_HOUR),
    minute: validChain(spec.minute, CALENDAR_MINUTE),
    second: validChain(spec.second, CALENDAR_SECOND),
  };
}

/**
 * The expression without its time zone. systemd takes a final " UTC" in any case; otherwise the
 * last word when it names a time zone; and only one of the two.
 */
function withoutTimeZone(text: string): string {
  if (UTC_SUFFIX.test(text)) return text.slice(0, -' UTC'.length);
  const lastSpace = text.lastIndexOf(' ');
  return lastSpace >= 0 && isTimeZone(text.slice(lastSpace + 1)) ? text.slice(0, lastSpace) : text;
}

/** "UTC", a zone name Node lists, or another exactly spelled name Node knows (Asia/Kolkata). */
function isTimeZone(name: string): boolean {
  if (LISTED_ZONES.has(name)) return true;
  if (!ZONE_SPELLING.test(name) || LISTED_ZONES_LOWER.has(name.toLowerCase())) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** A leading weekday list ("Mon..Fri,Sun", "Sat,Sun"), as bits; 0 when there is none. */
function parseWeekdays(s: Scanner): number {
  let bits = 0;
  // The first day of the range being read, and still set after it until a "," (like systemd's
  // `l`), so that "Mon..Wed..Fri" is refused.
  let rangeStart: number | null = null;
  for (let first = true; ; first = false) {
    const name = s.take(WEEKDAY);
    if (name === null) {
      if (first) return 0;
      throw notWeekdays(s);
    }
    if (!AFTER_WEEKDAY.includes(s.char())) throw notWeekdays(s);
    const day = WEEKDAY_ORDER.indexOf(name.slice(0, 3).toLowerCase());
    if (rangeStart !== null && rangeStart > day) {
      fail(`"${s.word()}" has a weekday range that runs backwards: weeks start on Monday, so write e.g. "Sat,Sun,Mon" rather than "Sat..Mon"`);
    }
    for (let d = rangeStart ?? day; d <= day; d++) bits |= 1 << d;
    if (s.atEnd() || s.char() === ' ') {
      s.skipSpaces();
      return bits;
    }
    if (s.char() === ',') {
      rangeStart = null;
      s.pos++;
    } else if (rangeStart !== null) {
      throw notWeekdays(s);
    } else if (s.lookingAt('..')) {
      rangeStart = day;
      s.pos += 2;
    } else if (s.char() === '-') {
      // "Mon-Fri": the range syntax before "..", which systemd still takes.
      rangeStart = day;
      s.pos++;
    } else {
      throw notWeekdays(s);
    }
    // A list may end with a comma ("Mon, 12:00"), but not with an open range.
    if (s.atEnd() || s.char() === ' ') {
      if (rangeStart !== null) throw notWeekdays(s);
      s.skipSpaces();
      return bits;
    }
  }
}

/** "@SECONDS": one moment in UTC, with no time of day after it. */
function parseUnixTime(s: Scanner, spec: CalendarSpec): void {
  s.pos++;
  const digits = s.take(DIGITS);
  if (digits === null || !s.atEnd()) throw unreadable(s);
  const milliseconds = Number(digits) * 1000;
  if (milliseconds >= Date.UTC(CALENDAR_YEAR.max + 1, 0, 1)) {
    fail(`"@${digits}" is after ${CALENDAR_YEAR.max}, the last year systemd's calendar knows`);
  }
  const date = new Date(milliseconds);
  const constant = (value: number): Chain => [{ source: String(value), start: value, stop: null, repeat: 0 }];
  spec.year = constant(date.getUTCFullYear());
  spec.month = constant(date.getUTCMonth() + 1);
  spec.day = constant(date.getUTCDate());
}

/** `[YYYY-]MM-DD`, with `~` before the day to count back from the end of the month; or none. */
function parseDate(s: Scanner, spec: CalendarSpec): void {
  if (s.atEnd()) return;
  const begin = s.pos;
  const first = parseChain(s, false);
  // "22:30", or "22" (which parseTime refuses): a time, not a date.
  if (s.atEnd() || s.char() === ':') {
    s.pos = begin;
    return;
  }
  spec.endOfMonth = dateSeparator(s);
  const second = parseChain(s, false);
  if (s.atEnd() || s.char() === ' ') {
    spec.month = first;
    spec.day = second;
    s.skipSpaces();
    return;
  }
  if (spec.endOfMonth) fail(`"${s.word()}" has "~" before the month: it belongs before the day (e.g. "*-02~01")`);
  spec.endOfMonth = dateSeparator(s);
  const third = parseChain(s, false);
  if (!(s.atEnd() || s.char() === ' ')) throw unreadable(s);
  spec.year = first;
  spec.month = second;
  spec.day = third;
  s.skipSpaces();
}

/** Reads "-" (false) or "~" (true: the day counts back from the end of the month). */
function dateSeparator(s: Scanner): boolean {
  const separator = s.char();
  if (separator !== '-' && separator !== '~') throw unreadable(s);
  s.pos++;
  return separator === '~';
}

/** `HH:MM[:SS[.ffffff]]`; none at all means midnight. Only the time zone, already cut off, may follow. */
function parseTime(s: Scanner, spec: CalendarSpec): void {
  if (s.atEnd()) return;
  spec.hour = parseChain(s, false);
  if (s.char() !== ':') throw unreadable(s);
  s.pos++;
  spec.minute = parseChain(s, false);
  if (s.char() === ':') {
    s.pos++;
    spec.second = parseChain(s, true);
  }
  if (s.atEnd()) return;
  if (s.char() !== ' ') throw unreadable(s);
  const rest = s.text.slice(s.pos).trim();
  fail(
    rest === ''
      ? 'put a single space between the time and the time zone'
      : `only a time zone may follow the time, and "${rest}" is not one (${ZONE_EXAMPLES})`,
  );
}

/** `*` or a comma-separated list of components. */
function parseChain(s: Scanner, seconds: boolean): Chain {
  // For seconds systemd stores "*" as "0/1", which is always valid: null does as well here.
  if (s.char() === '*') {
    s.pos++;
    return null;
  }
  const chain: CalendarComponent[] = [];
  for (;;) {
    chain.push(parseComponent(s, seconds));
    if (s.char() !== ',') return chain;
    if (chain.length > MAX_LIST_ELEMENTS) fail(`"${s.word()}" has more than ${MAX_LIST_ELEMENTS + 1} list elements`);
    s.pos++;
  }
}

/** `N`, `N/R`, `N..M` or `N..M/R`. */
function parseComponent(s: Scanner, seconds: boolean): CalendarComponent {
  const begin = s.pos;
  const source = () => s.text.slice(begin, s.pos);
  const start = parseDecimal(s, seconds);
  let stop: number | null = null;
  let repeat = 0;
  if (s.lookingAt('..')) {
    s.pos += 2;
    stop = parseDecimal(s, seconds);
    repeat = seconds ? MICROSECONDS : 1;
  }
  if (s.char() === '/') {
    s.pos++;
    repeat = parseDecimal(s, seconds);
    if (repeat === 0) fail(`"${source()}" repeats every 0: the repetition must be more than 0`);
  } else if (seconds && stop !== null && start + repeat > stop) {
    // The default step of a seconds range is one second, so it must span one at least.
    fail(`seconds range "${source()}" spans less than a second: give its step (e.g. "${source()}/0.5")`);
  }
  if (!AFTER_COMPONENT.includes(s.char())) throw unreadable(s);
  return { source: source(), start, stop, repeat };
}

/** A decimal number; for seconds in microseconds, with decimals. */
function parseDecimal(s: Scanner, seconds: boolean): number {
  const digits = s.take(DIGITS);
  if (digits === null) throw unreadable(s);
  let value = Number(digits);
  if (seconds) {
    value *= MICROSECONDS;
    // One "." starts the decimals, two are a range.
    if (s.char() === '.' && !s.lookingAt('..')) {
      s.pos++;
      value += parseMicroseconds(s);
    }
  }
  if (value > INT_MAX) fail(`"${s.word()}" has a number too large for any part of a date or time`);
  return value;
}

/** Decimals as microseconds: systemd rounds on the seventh decimal and ignores any after it. */
function parseMicroseconds(s: Scanner): number {
  const digits = s.take(DIGITS);
  if (digits === null) throw unreadable(s);
  const microseconds = Number(digits.slice(0, 6).padEnd(6, '0'));
  return (digits[6] ?? '0') >= '5' ? microseconds + 1 : microseconds;
}

function notWeekdays(s: Scanner): CalendarError {
  return new CalendarError(`"${s.word()}" is not a weekday, or a list ("Sat,Sun") or range ("Mon..Fri") of them`);
}

/** Why the text at the position fits no part of a calendar expression. */
function unreadable(s: Scanner): CalendarError {
  const word = s.word();
  const atWordStart = s.pos === 0 || s.text.charAt(s.pos - 1) === ' ';
  if (atWordStart && /[A-Za-z]/.test(s.char())) {
    // A last word after others can only have been meant as a time zone.
    const isLastWord = s.pos > 0 && !s.text.includes(' ', s.pos);
    return new CalendarError(
      isLastWord
        ? `"${word}" is not a weekday, a date, a time or a time zone (${ZONE_EXAMPLES})`
        : `"${word}" is not a weekday, a date or a time (${EXAMPLES})`,
    );
  }
  return new CalendarError(
    `"${word}" is not a date ([YYYY-]MM-DD) or a time (HH:MM[:SS]), whose parts are "*", numbers, lists ("1,15"), ranges ("1..5") or repetitions ("00/15")`,
  );
}

/**
 * The chain as systemd's calendar_spec_normalize() leaves it, after the checks of its
 * calendar_spec_valid(); throws the reason for the first component that fails them.
 */
function validChain(chain: Chain, field: CalendarField): Chain {
  return chain?.map((component) => checkComponent(normalizeComponent(component, field), field)) ?? null;
}

function normalizeComponent(component: CalendarComponent, field: CalendarField): CalendarComponent {
  let { start, stop, repeat } = component;
  if (field === CALENDAR_YEAR) {
    start = fullYear(start);
    stop = stop === null ? null : fullYear(stop);
  }
  // A range ends on its last repetition, and a range that holds only its start is that value:
  // systemd takes hour "05..30/50" as "05".
  if (stop !== null && stop > start) stop -= (stop - start) % repeat;
  if (stop === start) {
    stop = null;
    repeat = 0;
  }
  return { source: component.source, start, stop, repeat };
}

/** Two-digit years as systemd reads them: 26 is 2026, 99 is 1999. */
function fullYear(year: number): number {
  if (year < 70) return year + 2000;
  return year < 100 ? year + 1900 : year;
}

function checkComponent(component: CalendarComponent, field: CalendarField): CalendarComponent {
  const { source, start, stop, repeat } = component;
  const { name, min, max } = field;
  const show = (value: number) => String(value / field.unit);
  const outOfRange = (value: number) => value < min || value > max;
  if (outOfRange(start) || (stop !== null && outOfRange(stop))) {
    fail(`${name} "${source}" is out of range ${show(min)}-${show(max)}`);
  }
  if (stop !== null && stop < start) fail(`${name} range "${source}" runs backwards: write the lower value first`);
  // systemd wants room for one repetition at least: minute "30/30" would need a 60th minute.
  // From the end of the month ("~"), repetitions go towards its last day.
  const fromEnd = field === CALENDAR_DAY_FROM_END;
  const roomForOne = stop !== null || (fromEnd ? start - repeat >= min : start + repeat <= max);
  if (repeat > max - min || !roomForOne) {
    fail(`${name} "${source}" has no room to repeat within ${show(min)}-${show(max)}: systemd wants one repetition at least, so use a smaller one`);
  }
  return component;
}

/**
 * Whether any day from yesterday (UTC) to the end of the last year systemd searches matches the
 * weekdays and the date. Whole days, and a day early: a date that is still to come in some time
 * zone is not refused, though systemd, which knows the hour and the zone, may already say "never".
 */
function hasDayToCome(spec: CalendarSpec, now: number): boolean {
  const DAY = 86_400_000;
  for (let time = Math.floor(now / DAY) * DAY - DAY; ; time += DAY) {
    const date = new Date(time);
    if (date.getUTCFullYear() > CALENDAR_YEAR.max) return false;
    if (matchesDay(spec, date)) return true;
  }
}

function matchesDay(spec: CalendarSpec, date: Date): boolean {
  // systemd counts weekdays from Monday, Date from Sunday.
  const weekday = (date.getUTCDay() + 6) % 7;
  if (spec.weekdays !== 0 && (spec.weekdays & (1 << weekday)) === 0) return false;
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth() + 1;
  const days = spec.endOfMonth ? countedFromStart(spec.day, new Date(Date.UTC(year, month, 0)).getUTCDate()) : spec.day;
  return inChain(spec.year, year) && inChain(spec.month, month) && inChain(days, date.getUTCDate());
}

/** "~" days as days of a month of `length` days: 1 is its last; a range "~1..7" becomes "25..31". */
function countedFromStart(chain: Chain, length: number): Chain {
  const day = (fromEnd: number) => length + 1 - fromEnd;
  return (
    chain?.map((c) => (c.stop === null ? { ...c, start: day(c.start) } : { ...c, start: day(c.stop), stop: day(c.start) })) ?? null
  );
}

function inChain(chain: Chain, value: number): boolean {
  return (
    chain === null ||
    chain.some(
      ({ start, stop, repeat }) =>
        value === start || (repeat > 0 && value > start && (value - start) % repeat === 0 && (stop === null || value <= stop)),
    )
  );
}
