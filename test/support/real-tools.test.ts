// The harness must tell a good unit from a bad one, or every test built on it proves nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { quadletDryRun, quadletMissing, systemdAnalyzeVerify, systemdCalendar, systemdMissing } from './real-tools.js';
import { skipUnless } from './skip.js';

const quadlet = skipUnless(test, quadletMissing(), 'Quadlet harness');
const systemd = skipUnless(test, systemdMissing(), 'systemd harness');

const CONTAINER = '[Container]\nImage=localhost/x:1\n';
const BACKUP_SERVICE = '[Unit]\nDescription=Back up\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/true\n';
const timer = (calendar: string) =>
  `[Unit]\nDescription=Back up daily\n\n[Timer]\nOnCalendar=${calendar}\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n`;

for (const user of [false, true]) {
  quadlet(`quadlet accepts a minimal .container and generates its service (user=${user})`, async () => {
    const r = await quadletDryRun([{ fileName: 'x.container', content: CONTAINER }], { user });
    assert.ok(r.ok, r.stderr);
    assert.equal([...r.services.keys()], ['x.service']);
    assert.match(r.services.get('x.service') ?? '', /^ExecStart=\/usr\/bin\/podman run .* localhost\/x:1$/m);
  });
}

quadlet('quadlet refuses an unknown key and names it', async () => {
  const r = await quadletDryRun([{ fileName: 'x.container', content: `${CONTAINER}Bogus=1\n` }], { user: false });
  assert.not.ok(r.ok);
  assert.is(r.exitCode, 1);
  assert.match(r.problems.join('\n'), /unsupported key 'Bogus' in group 'Container'/);
  assert.is(r.services.has('x.service'), false);
});

quadlet('a quadlet warning alone makes the run not ok', async () => {
  const r = await quadletDryRun([{ fileName: 'x.container', content: '[Container]\nImage=x\n' }], { user: false });
  assert.is(r.exitCode, 0);
  assert.not.ok(r.ok);
  assert.match(r.problems.join('\n'), /not a fully qualified image name/);
});

quadlet('a file the generator would ignore is refused by the harness', async () => {
  try {
    await quadletDryRun([{ fileName: 'x.service', content: BACKUP_SERVICE }], { user: false });
    assert.unreachable('accepted a .service as a Quadlet source');
  } catch (e) {
    assert.match(String(e), /x\.service/);
  }
});

systemd('verify passes a valid service and timer with no output', async () => {
  const r = await systemdAnalyzeVerify([
    { fileName: 'backup.service', content: BACKUP_SERVICE },
    { fileName: 'backup.timer', content: timer('*-*-* 02:00:00') },
  ]);
  assert.is(r.output, '');
  assert.ok(r.ok);
});

systemd('verify fails a timer with OnCalendar=garbage', async () => {
  const r = await systemdAnalyzeVerify([
    { fileName: 'backup.service', content: BACKUP_SERVICE },
    { fileName: 'backup.timer', content: timer('garbage') },
  ]);
  assert.not.ok(r.ok);
  assert.match(r.output, /Failed to parse calendar specification/);
});

systemd('verify fails an unknown key even though systemd exits 0', async () => {
  const r = await systemdAnalyzeVerify([{ fileName: 'x.service', content: `${BACKUP_SERVICE}Bogus=1\n` }]);
  assert.is(r.exitCode, 0);
  assert.not.ok(r.ok);
  assert.match(r.output, /Unknown key 'Bogus'/);
});

systemd('verify fails a missing executable', async () => {
  const r = await systemdAnalyzeVerify([
    { fileName: 'x.service', content: '[Service]\nExecStart=/usr/bin/no-such-program\n' },
  ]);
  assert.not.ok(r.ok);
  assert.match(r.output, /no-such-program/);
});

systemd('calendar accepts a daily time and normalizes it', async () => {
  const r = await systemdCalendar('*-*-* 02:00:00');
  assert.ok(r.ok, r.output);
  assert.is(r.normalized, '*-*-* 02:00:00');
  assert.is((await systemdCalendar('daily')).normalized, '*-*-* 00:00:00');
});

systemd('calendar refuses nonsense', async () => {
  const r = await systemdCalendar('not a time');
  assert.not.ok(r.ok);
  assert.is(r.normalized, '');
});

const both = quadletMissing() === null ? systemd : skipUnless(test, quadletMissing(), 'Quadlet + systemd harness');
for (const user of [false, true]) {
  both(`Quadlet's services for a container and its volume pass verify (user=${user})`, async () => {
    const q = await quadletDryRun(
      [
        { fileName: 'db.container', content: `${CONTAINER}Volume=data.volume:/data\n\n[Install]\nWantedBy=default.target\n` },
        { fileName: 'data.volume', content: '[Volume]\n' },
      ],
      { user },
    );
    assert.ok(q.ok, q.stderr);
    const units = [...q.services].map(([fileName, content]) => ({ fileName, content }));
    assert.equal(units.map((u) => u.fileName).sort(), ['data-volume.service', 'db.service']);
    const v = await systemdAnalyzeVerify(units, { user });
    assert.ok(v.ok, v.output);
    // Alone, the container's service requires a unit systemd cannot find.
    const alone = await systemdAnalyzeVerify(units.filter((u) => u.fileName === 'db.service'), { user });
    assert.not.ok(alone.ok);
    assert.match(alone.output, /data-volume\.service/);
  });
}

test.run();
