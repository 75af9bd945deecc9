// Every set of units we render must pass Podman 5.4's real Quadlet generator, rootful and
// rootless, and systemd 257's `systemd-analyze verify` with no output at all: a unit the
// generator rejects simply does not exist for systemd, and verify only warns.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { renderUnits, toOnCalendar, type PostgresServiceInput } from '../../lib/index.js';
import { quadletDryRun, quadletMissing, systemdAnalyzeVerify, systemdCalendar, systemdMissing } from '../support/real-tools.js';
import { skipUnless } from '../support/skip.js';

const SETS: Record<string, PostgresServiceInput> = {
  defaults: {},
  tls: { tls: { domain: 'db.example.com', certificatesDir: '/etc/ssl/poststack' } },
  rootless: { rootless: true },
  'rootless with tls': { rootless: true, tls: { domain: 'db.example.com' } },
  'settings needing quotes': {
    settings: { log_line_prefix: '%m [%p] %q%u@%d ', search_path: '"$user", public', work_mem: '8MB', jit: false },
    initScripts: '/srv/poststack/schema',
  },
  'IPv6 on another port': { bindAddress: '::', port: 6543, maxConnections: 300, sharedBuffers: '2GB' },
  'every 15 minutes': { backup: { schedule: '*/15 * * * *' } },
  'weekdays or the 1st and 15th': { backup: { schedule: '30 1 1,15 * mon-fri' } },
  'systemd calendar': { backup: { schedule: 'Sun *-*-* 03:00:00 UTC' } },
  'no timer': { backup: { enabled: false } },
  'podman 5.0': { podmanVersion: '5.0' },
  'podman 4.7': { podmanVersion: '4.7' },
  'podman 4.6': { podmanVersion: '4.6', waitHealthy: false },
  'another service': { name: 'billing-db', database: 'billing', user: 'billing_owner' },
  'with the pool': { pool: { enabled: true } },
  'pool with tls, rootless': { rootless: true, tls: { domain: 'db.example.com' }, pool: { enabled: true, mode: 'session' } },
  'pool on podman 4.7': { podmanVersion: '4.7', pool: { enabled: true } },
  'verify and update timers': { backup: { verifySchedule: '0 4 * * sat' }, update: { schedule: '0 5 * * tue' } },
  'update timer, rootless': { rootless: true, update: { schedule: 'weekly' } },
  // Memory= itself needs Podman 5.5, newer than this generator: test/core/tuning.test.ts checks it.
  'sized to 64GB and 16 CPUs': { memory: '64GB', cpus: 16, settings: { work_mem: '64MB' } },
};

// As install renders them: the update service runs this pg-quadlet, installed by npm, with Node
// from the machine's packages (verify checks that the program exists).
const HOST = { pgQuadlet: ['/usr/bin/node', '/usr/local/lib/node_modules/pg-quadlet/dist/bin/pg-quadlet.js'], configFile: '/etc/pg-quadlet/config.ini' };

const generator = skipUnless(suite('Quadlet generator'), quadletMissing(), 'Podman Quadlet generator tests');
const verify = skipUnless(suite('systemd-analyze'), quadletMissing() ?? systemdMissing(), 'systemd-analyze verify tests');

for (const [label, input] of Object.entries(SETS)) {
  const units = renderUnits(input, HOST);
  const quadletFiles = units.filter((unit) => unit.target === 'quadlet');

  for (const user of [false, true]) {
    generator(`${label}: accepted by quadlet${user ? ' -user' : ''} with no warning`, async () => {
      const result = await quadletDryRun(quadletFiles, { user });
      assert.ok(result.ok, `quadlet refused or warned (exit ${result.exitCode}):\n${result.problems.join('\n')}`);
      assert.equal([...result.services.keys()].sort(), quadletFiles.map((unit) => unit.unitName).sort());
    });
  }

  verify(`${label}: generated and backup units pass systemd-analyze verify silently`, async () => {
    const rootless = input.rootless === true;
    const generated = await quadletDryRun(quadletFiles, { user: rootless });
    assert.ok(generated.ok, generated.problems.join('\n'));
    const files = [
      ...[...generated.services].map(([fileName, content]) => ({ fileName, content })),
      ...units.filter((unit) => unit.target === 'systemd'),
    ];
    const result = await systemdAnalyzeVerify(files, { user: rootless });
    assert.ok(result.ok, `systemd-analyze verify (exit ${result.exitCode}) said:\n${result.output}`);
  });
}

generator('the podman run line carries the hardening, the secret and the health check', async () => {
  const units = renderUnits({ tls: { domain: 'db.example.com' } });
  const result = await quadletDryRun(units.filter((unit) => unit.target === 'quadlet'), { user: false });
  const service = result.services.get('poststack-postgres.service') ?? '';
  const execStart = service.split('\n').find((line) => line.startsWith('ExecStart=')) ?? '';
  for (const expected of [
    '--name poststack-postgres',
    '--read-only',
    '--security-opt=no-new-privileges',
    '--cap-drop all',
    '--sdnotify=healthy',
    '--secret poststack-postgres-password,type=mount,target=postgres-password,uid=999,gid=999,mode=0400',
    '-v poststack-postgres-data:/data/postgres',
    '-v poststack-postgres-backups:/data/postgres/backups',
    '-v /data/certificates/db.example.com:/data/certificates/db.example.com:ro',
    '--publish 127.0.0.1:5432:5432',
    '--health-cmd /usr/local/bin/health-check.sh',
    '--health-interval 10s',
    '--health-timeout 5s',
    '--health-start-period 30s',
    '--health-retries 3',
    '--stop-signal SIGINT',
    ' localhost/postgres-debian:15',
  ]) {
    assert.ok(execStart.includes(expected), `ExecStart lacks ${expected}:\n${execStart}`);
  }
  assert.not.match(execStart, /POSTGRES_PASSWORD=/);
  assert.match(service, /^Type=notify$/m);
  assert.match(service, /^TimeoutStartSec=300$/m);
  assert.match(service, /^Restart=on-failure$/m);
});

generator('a sized container runs with its limits, its /dev/shm and the derived settings', async () => {
  const units = renderUnits({ memory: '4GB', cpus: 2 });
  const result = await quadletDryRun(units.filter((unit) => unit.target === 'quadlet'), { user: false });
  const execStart = (result.services.get('poststack-postgres.service') ?? '').split('\n').find((line) => line.startsWith('ExecStart=')) ?? '';
  for (const expected of ['--shm-size 256m', '--memory=4g', '--cpus=2', '--env POSTGRES_SHARED_BUFFERS=1GB', ' postgres -c effective_cache_size=3GB ', ' -c work_mem=10MB']) {
    assert.ok(execStart.includes(expected), `ExecStart lacks ${expected}:\n${execStart}`);
  }
});

const CRONS = ['0 2 * * *', '*/15 * * * *', '0 */6 * * *', '1-10/3 2 * * *', '0 22 * * mon-fri', '0 4 * * 7', '30 3 * jan,jul *', '0 0 1 */3 *', '30 1 1,15 * mon-fri', '0 0 */2 * 1', '0 0 31 2 mon', '@weekly', '@monthly'];
for (const cron of CRONS) {
  verify(`cron "${cron}" converts to OnCalendar= values systemd accepts`, async () => {
    for (const expression of toOnCalendar(cron)) {
      const result = await systemdCalendar(expression);
      assert.ok(result.ok, `systemd-analyze calendar '${expression}':\n${result.output}`);
    }
  });
}

verify('a converted schedule fires at the times cron would', async () => {
  // "30 1 1,15 * mon-fri": 01:30 on weekdays OR on the 1st and 15th. December 2029 starts on a
  // Saturday: the 1st fires (a Saturday), the 2nd (Sunday) does not, the 3rd (Monday) does.
  const [weekdays, days] = toOnCalendar('30 1 1,15 * mon-fri') as [string, string];
  const byWeekday = await systemdCalendar(weekdays.replace('*-*-*', '2029-12-*'));
  const byDay = await systemdCalendar(days.replace('*-*-', '2029-12-'));
  assert.match(byWeekday.output, /Next elapse: Mon 2029-12-03 01:30:00/);
  assert.match(byDay.output, /Next elapse: Sat 2029-12-01 01:30:00/);
});

generator.run();
verify.run();
