// A systemd calendar expression given as backup.schedule must be accepted exactly when systemd
// 257's `systemd-analyze calendar` parses it and finds a next elapse: an expression systemd
// parses but that never elapses ("*-02-30") is a timer that never fires, so it is refused too.
// The expected verdict comes from systemd for each expression, never from this file. The few
// places where the library differs on purpose are listed in lib/schedule.ts and tested in
// schedule.test.ts, not here.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ScheduleError, toOnCalendar } from '../../lib/core/schedule.js';
import { systemdCalendar, systemdMissing } from '../support/real-tools.js';
import { skipUnless } from '../support/skip.js';

const calendar = skipUnless(suite('systemd calendar expressions'), systemdMissing(), 'systemd-analyze calendar comparisons');

// Fixed dates are far from today (before 2021, or after 2099), so that no verdict changes with
// the day the tests run.
const EXPRESSIONS: string[] = [
  // Shorthands, in any case, with a time zone or followed by what they cannot take.
  'daily', 'Daily', 'DAILY', 'minutely', 'hourly', 'weekly', 'monthly', 'yearly', 'annually', 'anually',
  'quarterly', 'semiannually', 'semi-annually', 'biannually', 'bi-annually', 'Weekly UTC', 'daily utc',
  'daily Europe/Berlin', 'daily  UTC', 'every day', '02:00 daily', '22:30 daily', 'daily 02:00',
  // Weekdays: names full or short in any case, lists, ranges with ".." or the old "-".
  'Mon', 'monday', 'MONDAY 12:00', 'Mon-Fri', 'Mon-Fri *-*-* 02:00', 'Mon..Fri *-*-* 22:30', 'Mon..Fri 22:30',
  'Mon.Fri 22:30', 'Fri..Mon', 'Mon..Wed..Fri', 'Mon-Wed-Fri', 'Mon..Wed,Fri', 'Mon,', 'Mon, 12:00', 'Mon,,Tue',
  'Mon,Tue, 02:00', 'Mon..', 'Mon- 12:00', 'Monx', 'Monthly 02:00', 'Sat,Sun 04:00', 'Sunday,Saturday 02:00',
  'Sun..Sat', 'Sat..Sun', 'SAT..SUN 1:2:3', 'Wed..Wed', 'Mon  *-*-*  02:00',
  // Times: out of range, seconds with decimals, ranges and repetitions.
  '22', '22:30', '*-*-* 2:3', '*-*-* 0002:0003', '*-*-* 25:00', '*-*-* 24:00', '*-*-* 23:59:59', '*-*-* 23:60',
  '*-*-* 02:00:60', '*-*-* 02:00:59.999999', '*-*-* 02:00:59.9999995', '*-*-* 02:00:00.5', '12:00:00.1234565',
  '*-*-* 02:00:00.', '*-*-* 02:00:10.5..11', '*-*-* 02:00:10..11', '*-*-* 02:00:05..05', '*-*-* 02:00:00.5..1.5/0.5',
  '*-*-* 02:00:00/0.5', '*-*-* 02:00:00/0.0000001', '*-*-* 02:00:00/0.0000005', '*-*-* 02:00:*', '*:*:*',
  '*-*-* *:00/15:00', '*:0/15', '*/15:00', '*-*-* *:30/30', '*-*-* *:29/30', '*-*-* *:00/60', '*-*-* *:00/0',
  '*-*-* 00/6:00', '*-*-* 00/23:00', '*-*-* 01/23:00', '*-*-* 00..23/24:00', '*-*-* 05..30/50:00',
  '*-*-* 05..01:00', '*-*-* 1,2..4,6/2:00', '*-*-* 01,02,,03:00', '*-*-* 1..2..3:00', '*-*-* 1/2/3:00',
  '*-*-* -1:00', '*-*-* 99999999999:00', '*-*-* 02:00:00:00', '12:00:00.9999999',
  // Dates: days that do not exist, past and far years, two-digit years, weekdays that never meet.
  '2026-02-30', '*-02-30', '*-02-29', '*-02-31', '*-04-31', '*-04-30', '*-02,04-31', '*-02,04-30,31',
  '*-01,03,05-31', '*-04..06-31', '2020-01-01', '2020-06-01 02:00', '2199-12-31', '2200-01-01', '1969-12-31',
  '2100-01-01 02:00', '30-01-01', '69-01-01', '70-01-01', '99-01-01', '2100..2110-*-*', '2010..2020-*-*',
  '1970/229-01-01', '1970/230-01-01', 'Mon 2101-01-03', 'Tue 2101-01-03', 'Mon *-02-29', 'Fri *-*-13',
  'Sun 2199-12-31', 'Tue 2199-12-31', '*-*-*', '*-*', '01-01', '1-1', '**-*-*', '*-1..31/2', '*-*-1/31',
  '*-*-31/1', '*-02-01..31/30',
  // "~": days counted back from the end of the month.
  '*-02~03', '*-02~28', '*-02~29', '*-02~00', 'Mon *-05~07/1', '*-05~07/7', '*-05~01..07', '*-05~07..01',
  '*-02~01..05/2', '*-02~28/27', '*-02~28/28', '*-01~31', '*~02-03', '2100~02-03', '*-*~01',
  // Time zones: UTC in any case, IANA names (also ones Node lists under another name), wrong case,
  // unknown, two spaces before them, or with nothing else.
  '*-*-* 02:00 UTC', '*-*-* 02:00 utc', '*-*-* 02:00:00 UTC', 'Mon..Fri 22:30 UTC', '*-*-* 02:00 Europe/Berlin',
  '*-*-* 02:00 America/New_York', '*-*-* 02:00 Asia/Kolkata', '*-*-* 02:00 Europe/Kyiv', '*-*-* 02:00 Etc/GMT+5',
  '*-*-* 02:00 Etc/UTC', '*-*-* 02:00 europe/berlin', '*-*-* 02:00 Mars/Olympus', '12:00 Mars/Olympus',
  '*-*-* Mars/Olympus', '*-*-* 02:00  Europe/Berlin', '*-*-*  Europe/Berlin', '2100-01-01  UTC', 'Mon Europe/Berlin',
  'Europe/Berlin', 'UTC', '*-*-* 02:00 UTC UTC', 'Mon..Fri 22:30 UTC Europe/Berlin',
  // "@": a moment as UNIX time.
  '@1700000000', '@4102444800', '@4102444800 UTC', '@4102444800 Europe/Berlin', 'Fri @4102444800',
  'Mon @4102444800', '@99999999999', '@1700000000 12:00',
  // Not calendar syntax at all.
  '*-*-*T02:00', '2026/01/01', '2026.01.01 02:00', '*-*-*\t02:00', 'rm -rf /; echo',
];

function libraryVerdict(expression: string): { accepted: boolean; why: string } {
  try {
    return { accepted: true, why: `gives ${JSON.stringify(toOnCalendar(expression))}` };
  } catch (error) {
    if (!(error instanceof ScheduleError)) throw error;
    return { accepted: false, why: error.message };
  }
}

calendar('the trixie tree has time zone data (the time zone cases need it)', async () => {
  const result = await systemdCalendar('*-*-* 02:00 Europe/Berlin');
  assert.ok(result.ok, `systemd refused an IANA time zone: is tzdata installed in the tree?\n${result.output}`);
});

for (const expression of EXPRESSIONS) {
  calendar(`${JSON.stringify(expression)}: accepted exactly when systemd parses it and it elapses`, async () => {
    const systemd = await systemdCalendar(expression);
    const systemdFires = systemd.ok && !/^\s*Next elapse: never$/m.test(systemd.output);
    const library = libraryVerdict(expression);
    assert.is(
      library.accepted,
      systemdFires,
      `the library ${library.accepted ? 'accepts' : 'refuses'} it (${library.why}); systemd-analyze calendar says:\n${systemd.output}`,
    );
  });
}

calendar.run();
