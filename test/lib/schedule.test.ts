import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ScheduleError, toOnCalendar } from '../../lib/schedule.js';

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

test.run();
