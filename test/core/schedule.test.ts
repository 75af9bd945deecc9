import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ScheduleError, toOnCalendar } from '../../lib/core/schedule.js';

// cron → the OnCalendar= lines systemd must get for the same firing times.
const TABLE: Array<[cron: string, onCalendar: string[]]> = [
  ['0 2 * * *', ['*-*-* 02:00:00']],
  ['30 3 * * *', ['*-*-* 03:30:00']],
  ['*/15 * * * *', ['*-*-* *:00/15:00']],
  ['0 */6 * * *', ['*-*-* 00/6:00:00']],
  ['5 0,12 * * *', ['*-*-* 00,12:05:00']],
  ['0 1-5 * * *', ['*-*-* 01..05:00:00']],
  ['1-10/3 2 * * *', ['*-*-* 02:01,04,07,10:00']],
  ['10/20 * * * *', ['*-*-* *:10/20:00']],
  ['0 22 * * 1-5', ['Mon..Fri *-*-* 22:00:00']],
  ['0 22 * * mon-fri', ['Mon..Fri *-*-* 22:00:00']],
  ['0 4 * * 7', ['Sun *-*-* 04:00:00']],
  ['0 4 * * 0', ['Sun *-*-* 04:00:00']],
  ['0 4 * * sat,sun', ['Sat,Sun *-*-* 04:00:00']],
  ['0 4 * * 0-6', ['*-*-* 04:00:00']],
  ['30 3 * jan,jul *', ['*-01,07-* 03:30:00']],
  ['0 0 1 */3 *', ['*-01/3-01 00:00:00']],
  ['0 0 1 JAN *', ['*-01-01 00:00:00']],
  // cron ORs day-of-month and day-of-week when both are restricted; systemd ANDs: two lines.
  ['0 2 1,15 * mon-fri', ['Mon..Fri *-*-* 02:00:00', '*-*-01,15 02:00:00']],
  // ...but ANDs them when either field starts with "*" (Vixie cron and cronie alike).
  ['0 0 */2 * 1', ['Mon *-*-01/2 00:00:00']],
  // February 31 never comes: only the weekday half of the OR can fire.
  ['0 0 31 2 mon', ['Mon *-02-* 00:00:00']],
  ['@daily', ['*-*-* 00:00:00']],
  ['@hourly', ['*-*-* *:00:00']],
  ['@weekly', ['Sun *-*-* 00:00:00']],
  ['@monthly', ['*-*-01 00:00:00']],
  ['@yearly', ['*-01-01 00:00:00']],
];

for (const [cron, expected] of TABLE) {
  test(`cron "${cron}" becomes ${JSON.stringify(expected)}`, () => {
    assert.equal(toOnCalendar(cron), expected);
  });
}

test('a systemd calendar expression is taken as it is', () => {
  assert.equal(toOnCalendar('*-*-* 02:00:00'), ['*-*-* 02:00:00']);
  assert.equal(toOnCalendar('Mon..Fri *-*-* 22:30'), ['Mon..Fri *-*-* 22:30']);
  assert.equal(toOnCalendar('daily'), ['daily']);
  assert.equal(toOnCalendar('*-*-* 02:00:00 Europe/Berlin'), ['*-*-* 02:00:00 Europe/Berlin']);
});

const INVALID: Array<[schedule: string, reason: RegExp]> = [
  ['', /empty/],
  ['61 2 * * *', /minute 61 is out of range 0-59/],
  ['0 24 * * *', /hour 24 is out of range 0-23/],
  ['0 2 0 * *', /day of month 0 is out of range 1-31/],
  ['0 2 * 13 *', /month 13 is out of range 1-12/],
  ['0 2 * * 8', /day of week 8 is out of range 0-7/],
  ['5-1 * * * *', /runs backwards/],
  ['*/0 * * * *', /step .* at least 1/],
  ['0 2 * * funday', /day of week value "funday" is not a number or a name/],
  ['1,,2 * * * *', /empty list element/],
  ['0 2 */2/3 * *', /more than one "\/"/],
  ['0 0 31 2 *', /never runs/],
  ['0 0 30 2 *', /never runs/],
  ['@reboot', /not a schedule a timer can run/],
  ['0 2 * * * *', /has 6 fields: cron takes 5/],
  ['0 2 * *', /has 4 fields: cron takes 5/],
  ['rm -rf /; echo', /neither 5-field cron/],
];

for (const [schedule, reason] of INVALID) {
  test(`schedule ${JSON.stringify(schedule)} is refused with the reason`, () => {
    assert.throws(() => toOnCalendar(schedule), (error: unknown) => error instanceof ScheduleError && reason.test(error.message));
  });
}

// Calendar expressions follow the rules of systemd's parser; calendar-systemd.test.ts compares
// many more with the real systemd-analyze. These need no systemd. Fixed dates lie before 2021 or
// after 2099, so that no verdict changes with the day the tests run.
const CALENDAR_ACCEPTED = [
  'Mon-Fri 02:00',
  'Mon, 12:00',
  'Sat,Sun 04:00 UTC',
  'SemiAnnually',
  'weekly utc',
  '*-*-01 03:00 Asia/Kolkata',
  '*-*-* 02:00 Etc/GMT+5',
  '*-02~03',
  'Mon *-05~07/1',
  '*-02-29',
  '*-*-* 02:00:00.5',
  '*-*-* 05..30/50:00',
  '2100-01-01',
  '@4102444800',
];

for (const expression of CALENDAR_ACCEPTED) {
  test(`calendar expression ${JSON.stringify(expression)} is taken as it is`, () => {
    assert.equal(toOnCalendar(expression), [expression]);
  });
}

const CALENDAR_REFUSED: Array<[expression: string, reason: RegExp]> = [
  [
    'every day',
    /^"every day" is neither 5-field cron \("minute hour day-of-month month day-of-week"\) nor a systemd calendar expression: "every" is not a weekday, a date or a time \(e\.g\. "\*-\*-\* 02:00:00", "Mon\.\.Fri 22:30", "daily"\)$/,
  ],
  ['02:00 daily', /only a time zone may follow the time, and "daily" is not one/],
  ['Mon.Fri 22:30', /"Mon\.Fri" is not a weekday/],
  ['Fri..Mon 02:00', /runs backwards: weeks start on Monday/],
  ['*-*-* 25:00', /hour "25" is out of range 0-23/],
  ['*/15:00', /"\*\/15:00" is not a date .* or a time/],
  ['*-*-* *:30/30', /minute "30\/30" has no room to repeat within 0-59/],
  ['*-*-* 02:00:10.5..11', /spans less than a second/],
  ['*-02~29', /counted back from the end of the month .* out of range 1-28/],
  ['*~02-03', /"~" before the month/],
  ['2200-01-01', /year "2200" is out of range 1970-2199/],
  ['*-*-* 02:00 Mars/Olympus', /"Mars\/Olympus" is not one \(UTC or an IANA name/],
  ['*-*-* 02:00 europe/berlin', /"europe\/berlin" is not one/],
  ['*-*-* 02:00  UTC', /single space between the time and the time zone/],
  ['*-02-30', /^"\*-02-30" never elapses/],
  ['2026-02-30', /never elapses/],
  ['2020-06-01 02:00', /never elapses/],
  ['Sun 2199-12-31', /never elapses/],
  ['@1700000000', /never elapses/],
  // Where the library refuses on purpose what systemd may take (see lib/schedule.ts): names of
  // zones that only some hosts have, the host's own zone abbreviations, "@" with a sign.
  ['*-*-* 02:00 GMT', /"GMT" is not one/],
  ['*-*-* 02:00 US/Eastern', /"US\/Eastern" is not one/],
  ['*-*-* 02:00 CEST', /"CEST" is not one/],
  ['*-*-* 02:00 localtime', /"localtime" is not one/],
  ['@+4102444800', /not a schedule a timer can run/],
];

for (const [expression, reason] of CALENDAR_REFUSED) {
  test(`calendar expression ${JSON.stringify(expression)} is refused with the reason`, () => {
    assert.throws(() => toOnCalendar(expression), (error: unknown) => error instanceof ScheduleError && reason.test(error.message));
  });
}

test.run();
