import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isConfigError, renderUnits, resolveConfig, type RenderedUnit } from '../../lib/index.js';

const fixtures = new URL('../fixtures/default/', import.meta.url);

function file(units: RenderedUnit[], suffix: string): string {
  const unit = units.find((candidate) => candidate.fileName.endsWith(suffix));
  assert.ok(unit, `no ${suffix} rendered`);
  return unit.content;
}

function lines(content: string, key: string): string[] {
  return content.split('\n').filter((line) => line.startsWith(`${key}=`)).map((line) => line.slice(key.length + 1));
}

test('the default config renders exactly the reviewed files', () => {
  const units = renderUnits();
  assert.equal(units.map((unit) => unit.fileName).sort(), readdirSync(fixtures).sort());
  for (const unit of units) assert.fixture(unit.content, readFileSync(new URL(unit.fileName, fixtures), 'utf8'), unit.fileName);
});

/** The lines of one [section] of a unit file. */
function section(content: string, name: string): string[] {
  const start = content.split('\n').indexOf(`[${name}]`);
  assert.ok(start >= 0, `no [${name}]`);
  const rest = content.split('\n').slice(start + 1);
  const end = rest.findIndex((line) => line.startsWith('['));
  return rest.slice(0, end < 0 ? undefined : end);
}

const seconds = (value: string) => (value.endsWith('ms') ? Number(value.slice(0, -2)) / 1000 : Number(value.replace(/s$/, '')));

test('both containers restart half a second after a crash, and a start that keeps failing, even after 10 s, stops at the start limit', () => {
  const units = renderUnits({ pool: { enabled: true } });
  for (const name of ['.container', '-pool.container']) {
    const unit = units.find((candidate) => candidate.fileName.endsWith(name) && (name !== '.container' || !candidate.fileName.includes('pool')));
    assert.ok(unit, name);
    const service = section(unit.content, 'Service');
    const head = section(unit.content, 'Unit');
    assert.equal(lines(service.join('\n'), 'Restart'), ['on-failure'], name);
    assert.equal(lines(service.join('\n'), 'RestartSec'), ['500ms'], name);
    // systemd reads the start limit in [Unit] only.
    assert.equal(lines(head.join('\n'), 'StartLimitIntervalSec'), ['120s'], name);
    assert.equal(lines(head.join('\n'), 'StartLimitBurst'), ['10'], name);
    assert.equal(lines(service.join('\n'), 'StartLimitIntervalSec'), [], name);
    // A start that fails after 10 s: the restarts after it still come within the interval, so
    // systemd stops them (start-limit-hit).
    const burst = Number(lines(unit.content, 'StartLimitBurst')[0]);
    assert.ok(burst * (10 + seconds(lines(unit.content, 'RestartSec')[0]!)) <= seconds(lines(unit.content, 'StartLimitIntervalSec')[0]!), name);
  }
});

test('each file says where it goes and which systemd unit it becomes', () => {
  assert.equal(
    renderUnits().map(({ fileName, target, unitName }) => [fileName, target, unitName]),
    [
      ['poststack-postgres.container', 'quadlet', 'poststack-postgres.service'],
      ['poststack-postgres-data.volume', 'quadlet', 'poststack-postgres-data-volume.service'],
      ['poststack-postgres-backups.volume', 'quadlet', 'poststack-postgres-backups-volume.service'],
      ['poststack-postgres-backup.service', 'systemd', 'poststack-postgres-backup.service'],
      ['poststack-postgres-backup-full.service', 'systemd', 'poststack-postgres-backup-full.service'],
      ['poststack-postgres-backup.timer', 'systemd', 'poststack-postgres-backup.timer'],
      ['poststack-postgres-backup-full.timer', 'systemd', 'poststack-postgres-backup-full.timer'],
    ],
  );
});

test('the same input gives the same bytes, whatever the order of its settings', () => {
  const a = renderUnits({ settings: { work_mem: '8MB', jit: false }, tls: { domain: 'db.example.com' } });
  const b = renderUnits({ tls: { domain: 'db.example.com' }, settings: { jit: false, work_mem: '8MB' } });
  assert.equal(a, b);
});

test('the password reaches the container only as a secret file, never as a value', () => {
  const container = file(renderUnits(), '.container');
  assert.equal(lines(container, 'Secret'), ['poststack-postgres-password,type=mount,target=postgres-password,uid=999,gid=999,mode=0400']);
  assert.ok(lines(container, 'Environment').includes('POSTGRES_PASSWORD_FILE=/run/secrets/postgres-password'));
  assert.not.match(container, /POSTGRES_PASSWORD=/);
});

test('the data and backups live on separate volumes, each with its own .volume file', () => {
  const units = renderUnits({ name: 'billing' });
  assert.equal(lines(file(units, '.container'), 'Volume'), ['billing-data.volume:/data/postgres', 'billing-backups.volume:/data/postgres/backups']);
  assert.equal(lines(file(units, 'billing-data.volume'), 'VolumeName'), ['billing-data']);
  assert.equal(lines(file(units, 'billing-backups.volume'), 'VolumeName'), ['billing-backups']);
});

test('TLS mounts only that domain\'s certificates, read-only, and names the domain', () => {
  const container = file(renderUnits({ tls: { domain: 'db.example.com', certificatesDir: '/etc/ssl/poststack/' } }), '.container');
  assert.ok(lines(container, 'Volume').includes('/etc/ssl/poststack/db.example.com:/data/certificates/db.example.com:ro'));
  assert.ok(lines(container, 'Environment').includes('DOMAIN=db.example.com'));
  assert.not.match(file(renderUnits(), '.container'), /DOMAIN=|certificates/);
});

test('init scripts are mounted read-only where the image runs them', () => {
  const container = file(renderUnits({ initScripts: '/srv/poststack/schema' }), '.container');
  assert.ok(lines(container, 'Volume').includes('/srv/poststack/schema:/data/init.d:ro'));
});

test('the port is published on loopback by default, and on the address asked for', () => {
  assert.equal(lines(file(renderUnits(), '.container'), 'PublishPort'), ['127.0.0.1:5432:5432']);
  assert.equal(lines(file(renderUnits({ bindAddress: '0.0.0.0', port: 6543 }), '.container'), 'PublishPort'), ['0.0.0.0:6543:5432']);
  assert.equal(lines(file(renderUnits({ bindAddress: '::1' }), '.container'), 'PublishPort'), ['[::1]:5432:5432']);
});

test('extra settings become server arguments, quoted and escaped for systemd', () => {
  const container = file(
    renderUnits({ settings: { work_mem: '8MB', log_line_prefix: '%m [%p] $USER ', jit: false, random_page_cost: 1.1, note: `it's "x" \\ y` } }),
    '.container',
  );
  assert.equal(lines(container, 'Exec'), [
    `postgres -c jit=off -c "log_line_prefix=%%m [%%p] $$USER " -c "note=it's \\"x\\" \\\\ y" -c random_page_cost=1.1 -c work_mem=8MB`,
  ]);
  assert.equal(lines(file(renderUnits(), '.container'), 'Exec'), []);
});

test('sizes and counts reach the image under the spec\'s variable names', () => {
  const environment = lines(file(renderUnits({ maxConnections: 250, sharedBuffers: '1GB', database: 'app', user: 'app_owner' }), '.container'), 'Environment');
  for (const expected of ['POSTGRES_DB=app', 'POSTGRES_USER=app_owner', 'POSTGRES_MAX_CONNECTIONS=250', 'POSTGRES_SHARED_BUFFERS=1GB']) {
    assert.ok(environment.includes(expected), expected);
  }
});

test('rootless units start with the user\'s session and say how to override with systemctl --user', () => {
  const units = renderUnits({ rootless: true });
  assert.equal(lines(file(units, '.container'), 'WantedBy'), ['default.target']);
  assert.match(file(units, '-backup.timer'), /systemctl --user edit poststack-postgres-backup\.timer/);
  assert.equal(lines(file(renderUnits(), '.container'), 'WantedBy'), ['multi-user.target']);
});

test('the timer gets one OnCalendar= per cron alternative', () => {
  assert.equal(lines(file(renderUnits({ backup: { schedule: '30 1 1,15 * sun' } }), '.timer'), 'OnCalendar'), [
    'Sun *-*-* 01:30:00',
    '*-*-01,15 01:30:00',
  ]);
  assert.equal(lines(file(renderUnits({ backup: { schedule: 'Mon..Fri *-*-* 23:00' } }), '.timer'), 'OnCalendar'), ['Mon..Fri *-*-* 23:00']);
});

test('with the timer turned off, the backup service remains for manual runs', () => {
  const names = renderUnits({ backup: { enabled: false } }).map((unit) => unit.fileName);
  assert.ok(names.includes('poststack-postgres-backup.service'));
  assert.not.ok(names.some((name) => name.endsWith('.timer')));
});

const CONTAINER_KEYS = ['Notify', 'ShmSize', 'StopSignal', 'StopTimeout', 'PodmanArgs'];
function versionKeys(podmanVersion: string, waitHealthy = true): Record<string, string[]> {
  const container = file(renderUnits({ podmanVersion, waitHealthy }), '.container');
  return Object.fromEntries(CONTAINER_KEYS.map((key) => [key, lines(container, key)]));
}

test('Podman 5.4 gets native keys', () => {
  assert.equal(versionKeys('5.4'), { Notify: ['healthy'], ShmSize: ['256m'], StopSignal: ['SIGINT'], StopTimeout: ['60'], PodmanArgs: [] });
});

test('Podman 5.0 gets StopSignal= lowered to a podman run option', () => {
  assert.equal(versionKeys('5.0'), { Notify: ['healthy'], ShmSize: ['256m'], StopSignal: [], StopTimeout: ['60'], PodmanArgs: ['--stop-signal=SIGINT'] });
});

test('Podman 4.7 gets Notify=healthy as --sdnotify=healthy, and the 5.x keys lowered', () => {
  assert.equal(versionKeys('4.7'), {
    Notify: [],
    ShmSize: ['256m'],
    StopSignal: [],
    StopTimeout: [],
    PodmanArgs: ['--sdnotify=healthy', '--stop-timeout=60', '--stop-signal=SIGINT'],
  });
});

test('Podman 4.6 cannot wait for health: it does not by default, an explicit waitHealthy is refused with the version needed', () => {
  assert.throws(
    () => renderUnits({ podmanVersion: '4.6', waitHealthy: true }),
    (error: unknown) => isConfigError(error) && /waitHealthy = true: .*needs Podman 4\.7/.test(error.message),
  );
  assert.equal(resolveConfig({ podmanVersion: '4.6' }).waitHealthy, false);
  assert.equal(resolveConfig({ podmanVersion: '4.7' }).waitHealthy, true);
  assert.equal(versionKeys('4.6', false), {
    Notify: [],
    ShmSize: [],
    StopSignal: [],
    StopTimeout: [],
    PodmanArgs: ['--shm-size=256m', '--stop-timeout=60', '--stop-signal=SIGINT'],
  });
});

test('backup.verifySchedule adds a verification service and timer; without it there is none', () => {
  const units = renderUnits({ backup: { verifySchedule: '0 4 * * sat' } });
  const service = file(units, '-backup-verify.service');
  assert.match(service, /^Requisite=poststack-postgres\.service$/m);
  assert.match(service, /^ExecStart=\/usr\/bin\/podman exec poststack-postgres \/usr\/local\/bin\/pgbackrest\.sh verify$/m);
  assert.equal(lines(file(units, '-backup-verify.timer'), 'OnCalendar'), ['Sat *-*-* 04:00:00']);
  assert.not.ok(renderUnits().some((unit) => unit.fileName.includes('verify')));
  assert.throws(() => renderUnits({ backup: { verifySchedule: 'weekly on sundays' } }), (error: unknown) => isConfigError(error) && error.issues.some((issue) => issue.path === 'backup.verifySchedule'));
});

test('update.schedule adds a service that runs pg-quadlet update with the config install read, and its timer; without it there is none', () => {
  const units = renderUnits({ update: { schedule: '0 5 * * tue' } }, { pgQuadlet: ['/usr/bin/node', '/usr/local/lib/node_modules/pg-quadlet/dist/bin/pg-quadlet.js'], configFile: '/etc/pg-quadlet/config.ini' });
  const service = file(units, '-update.service');
  assert.match(service, /^ExecStart=\/usr\/bin\/node \/usr\/local\/lib\/node_modules\/pg-quadlet\/dist\/bin\/pg-quadlet\.js --config \/etc\/pg-quadlet\/config\.ini update$/m);
  assert.match(service, /^After=network-online\.target$/m);
  assert.match(service, /^TimeoutStartSec=2400$/m);
  assert.equal(lines(file(units, '-update.timer'), 'OnCalendar'), ['Tue *-*-* 05:00:00']);
  assert.match(file(renderUnits({ rootless: true, update: { schedule: 'weekly' } }), '-update.service'), /^ExecStart=pg-quadlet --user update$/m);
  assert.not.ok(renderUnits().some((unit) => unit.fileName.includes('update')));
  assert.throws(() => renderUnits({ update: { schedule: 'every tuesday' } }), (error: unknown) => isConfigError(error) && error.issues.some((issue) => issue.path === 'update.schedule'));
});

test('backup.encrypt and backup.s3: the settings as environment, the keys as Podman secrets and the CA file read-only; no secret in the unit', () => {
  const container = file(renderUnits({
    backup: { encrypt: true, s3: { endpoint: 's3.example.com', bucket: 'backups', region: 'eu-central-1', port: 9000, caFile: '/etc/ssl/s3-ca.pem', uriStyle: 'path' } },
  }), '.container');
  assert.equal(lines(container, 'Secret'), [
    'poststack-postgres-password,type=mount,target=postgres-password,uid=999,gid=999,mode=0400',
    'poststack-postgres-backup-passphrase,type=mount,target=backup-passphrase,uid=999,gid=999,mode=0400',
    'poststack-postgres-s3-keys,type=mount,target=backup-s3-keys,uid=999,gid=999,mode=0400',
  ]);
  for (const line of [
    'POSTGRES_BACKUP_ENCRYPT=aes-256-cbc', 'PGBACKREST_REPO2_TYPE=s3', 'PGBACKREST_REPO2_S3_ENDPOINT=s3.example.com', 'PGBACKREST_REPO2_S3_BUCKET=backups',
    'PGBACKREST_REPO2_PATH=/pg-quadlet/poststack-postgres', 'PGBACKREST_REPO2_S3_URI_STYLE=path', 'PGBACKREST_REPO2_STORAGE_PORT=9000',
    'PGBACKREST_REPO2_STORAGE_CA_FILE=/etc/pg-quadlet/s3-ca.pem',
  ]) {
    assert.ok(lines(container, 'Environment').includes(line), line);
  }
  assert.ok(lines(container, 'Volume').includes('/etc/ssl/s3-ca.pem:/etc/pg-quadlet/s3-ca.pem:ro'));
});

test('backup.s3 fields are checked, each named with its fix', () => {
  try {
    resolveConfig({ backup: { s3: { endpoint: 'https://s3.example.com', bucket: 'Bad_Bucket', region: 'eu central', path: 'relative' } } });
    assert.unreachable('refused');
  } catch (error) {
    assert.ok(isConfigError(error));
    assert.equal(error.issues.map((issue) => issue.path).sort(), ['backup.s3.bucket', 'backup.s3.endpoint', 'backup.s3.path', 'backup.s3.region']);
  }
  assert.throws(() => resolveConfig({ backup: { s3: { bucket: 'backups', region: 'eu-central-1' } } }), /backup\.s3\.endpoint/);
});

test('injection attempts are refused and nothing is rendered', () => {
  const attempts = [
    { name: 'pg\nExecStartPre=/bin/sh' },
    { image: 'localhost/pg:15 --privileged' },
    { settings: { work_mem: '8MB\n[Service]\nExecStartPre=/bin/sh' } },
    { settings: { 'x=y -c ssl': 'off' } },
    { user: "poststack'; DROP ROLE admin; --" },
    { database: 'poststack\nVolume=/:/host' },
    { tls: { domain: 'example.com', certificatesDir: '/etc/ssl\nVolume=/:/host' } },
    { backup: { schedule: '0 2 * * *\nExecStart=/bin/sh' } },
    { initScripts: '/srv/init:/etc:rw' },
    { bindAddress: '127.0.0.1:5432:5432\nPublishPort=0.0.0.0' },
  ];
  for (const input of attempts) {
    let rendered: RenderedUnit[] | undefined;
    let refused = false;
    try {
      rendered = renderUnits(input as never);
    } catch (error) {
      refused = isConfigError(error);
    }
    assert.ok(refused && rendered === undefined, `refused: ${JSON.stringify(input)}`);
  }
});

test.run();
