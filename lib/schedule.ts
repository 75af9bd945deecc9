/**
 * Backup schedules: the spec's 5-field cron (`0 2 * * *`) converted to systemd `OnCalendar=`
 * expressions, or a systemd calendar expression taken as it is.
 */

export class ScheduleError extends Error {
  override readonly name = 'ScheduleError';
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
const SYSTEMD_CALENDAR = /^[A-Za-z0-9*:.,/~+_ -]+$/;

/**
 * The `OnCalendar=` values for a schedule. Several values mean "any of them" (systemd ORs
 * repeated `OnCalendar=` lines). Throws `ScheduleError` with the reason when it is invalid.
 */
export function toOnCalendar(schedule: string): string[] {
  const text = schedule.trim();
  if (text === '') throw new ScheduleError('is empty: give 5-field cron such as "0 2 * * *" or a systemd calendar expression');
  if (text.startsWith('@')) {
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
  if (!SYSTEMD_CALENDAR.test(text)) {
    throw new ScheduleError(
      'is neither 5-field cron ("minute hour day-of-month month day-of-week") nor a systemd calendar expression such as "*-*-* 02:00:00"',
    );
  }
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
