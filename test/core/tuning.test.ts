// The settings derived from memory and cpus (lib/core/tuning.ts): the rules at several sizes, the
// config's own values winning, the fit check's refusal and its fixes, and what reaches the units
// and `status`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isConfigError, renderUnits, resolveConfig, type PostgresServiceInput } from '../../lib/index.js';
import { expectedSettings, settingDrift, type LiveSetting } from '../../lib/core/settings.js';
import { memoryFit, tune } from '../../lib/core/tuning.js';

function issuesOf(input: PostgresServiceInput): string[] {
  try {
    resolveConfig(input);
  } catch (error) {
    if (isConfigError(error)) return error.issues.map((issue) => `${issue.path}: ${issue.message}`);
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be refused`);
}

function containerUnit(input: PostgresServiceInput): string {
  const unit = renderUnits(input).find((candidate) => candidate.fileName.endsWith('.container') && !candidate.fileName.endsWith('-pool.container'));
  assert.ok(unit, 'no PostgreSQL container unit');
  return unit.content;
}

function lines(content: string, key: string): string[] {
  return content.split('\n').filter((line) => line.startsWith(`${key}=`)).map((line) => line.slice(key.length + 1));
}

const PROFILE = { random_page_cost: '1.1', effective_io_concurrency: '200', huge_pages: 'try' };

test('without memory and cpus nothing is derived: the spec\'s settings, 256m of /dev/shm, no limits', () => {
  const config = resolveConfig();
  const tuning = tune(config);
  assert.equal(tuning.values, []);
  assert.equal(tuning.serverSettings, {});
  assert.equal(tuning.container, { shmSize: '256m' });
  assert.is(config.sharedBuffers, '256MB');
  assert.equal(expectedSettings(config), { max_connections: '100', shared_buffers: '256MB', ssl: 'off' });
  const unit = containerUnit({});
  assert.equal([lines(unit, 'Exec'), lines(unit, 'Memory'), lines(unit, 'PodmanArgs'), lines(unit, 'ShmSize')], [[], [], [], ['256m']]);
});

// Each row: memory and cpus, then sharedBuffers, the -c settings and the container's values.
const SIZES: Array<[memory: string, cpus: number, sharedBuffers: string, settings: Record<string, string>, container: Record<string, string>]> = [
  [
    '1GB', 1, '256MB',
    {
      effective_cache_size: '768MB', maintenance_work_mem: '64MB',
      max_worker_processes: '8', max_parallel_workers: '1', max_parallel_workers_per_gather: '0', max_parallel_maintenance_workers: '0',
      // 768MB / 300 is 2.56MB: the 4MB floor.
      work_mem: '4MB', wal_buffers: '7MB', ...PROFILE,
    },
    { memory: '1g', cpus: '1', shmSize: '256m' },
  ],
  [
    '4GB', 2, '1GB',
    {
      effective_cache_size: '3GB', maintenance_work_mem: '256MB',
      max_worker_processes: '8', max_parallel_workers: '2', max_parallel_workers_per_gather: '1', max_parallel_maintenance_workers: '1',
      // 3072MB / 300 / 1
      work_mem: '10MB', wal_buffers: '16MB', ...PROFILE,
    },
    { memory: '4g', cpus: '2', shmSize: '256m' },
  ],
  [
    '64GB', 16, '16GB',
    {
      effective_cache_size: '48GB', maintenance_work_mem: '2GB',
      max_worker_processes: '16', max_parallel_workers: '16', max_parallel_workers_per_gather: '4', max_parallel_maintenance_workers: '4',
      // 49152MB / 300 / 4
      work_mem: '40MB', wal_buffers: '16MB', ...PROFILE,
    },
    // 4 × 16 workers × 40MB
    { memory: '64g', cpus: '16', shmSize: '2560m' },
  ],
];

for (const [memory, cpus, sharedBuffers, settings, container] of SIZES) {
  test(`${memory} and ${cpus} CPU${cpus === 1 ? '' : 's'}: the rules' values, in the units and in what status compares`, () => {
    const config = resolveConfig({ memory, cpus });
    const tuning = tune(config);
    assert.is(config.sharedBuffers, sharedBuffers);
    assert.equal(tuning.serverSettings, settings);
    assert.equal(tuning.container, container);
    assert.ok(tuning.values.every((tuned) => tuned.from === 'rule' && tuned.value === tuned.derived && tuned.rule.length > 0));
    assert.equal(expectedSettings(config), { ...settings, max_connections: '100', shared_buffers: sharedBuffers, ssl: 'off' });

    const unit = containerUnit({ memory, cpus });
    assert.ok(lines(unit, 'Environment').includes(`POSTGRES_SHARED_BUFFERS=${sharedBuffers}`));
    const args = Object.entries(settings).sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, value]) => `-c ${name}=${value}`);
    assert.equal(lines(unit, 'Exec'), [`postgres ${args.join(' ')}`]);
    assert.equal(lines(unit, 'ShmSize'), [container.shmSize]);
    assert.equal(lines(unit, 'PodmanArgs'), [`--memory=${container.memory}`, `--cpus=${container.cpus}`]);
  });
}

test('status reads the derived values back from pg_settings in their base units, and sees one that differs', () => {
  const expected = expectedSettings(resolveConfig({ memory: '4GB', cpus: 2 }));
  const live: LiveSetting[] = [
    { name: 'shared_buffers', setting: '131072', unit: '8kB', vartype: 'integer' },
    { name: 'effective_cache_size', setting: '393216', unit: '8kB', vartype: 'integer' },
    { name: 'wal_buffers', setting: '2048', unit: '8kB', vartype: 'integer' },
    { name: 'work_mem', setting: '10240', unit: 'kB', vartype: 'integer' },
    { name: 'maintenance_work_mem', setting: '262144', unit: 'kB', vartype: 'integer' },
    { name: 'max_parallel_workers', setting: '2', unit: null, vartype: 'integer' },
    { name: 'random_page_cost', setting: '1.1', unit: null, vartype: 'real' },
    { name: 'huge_pages', setting: 'try', unit: null, vartype: 'enum' },
  ];
  assert.equal(settingDrift(expected, live), []);
  const stale = live.map((row) => (row.name === 'work_mem' ? { ...row, setting: '4096' } : row));
  assert.equal(settingDrift(expected, stale, { work_mem: '4MB' }), [{ name: 'work_mem', configured: '10MB', live: '4MB' }]);
});

test('with memory alone, PostgreSQL\'s worker defaults stay and work_mem divides by their 2 workers per gather', () => {
  const tuning = tune(resolveConfig({ memory: '4GB', maxConnections: 50 }));
  // (4096 - 1024) / 150 / 2 = 10.24MB
  assert.equal(tuning.serverSettings, { effective_cache_size: '3GB', maintenance_work_mem: '256MB', work_mem: '10MB', wal_buffers: '16MB', ...PROFILE });
  // 4 × PostgreSQL's 8 parallel workers × 10MB
  assert.equal(tuning.container, { memory: '4g', shmSize: '320m' });
});

test('with cpus alone, only the workers and the profile: the spec\'s memory settings stay', () => {
  const config = resolveConfig({ cpus: 1.5 });
  assert.is(config.sharedBuffers, '256MB');
  // A fraction counts as a whole CPU.
  assert.equal(tune(config).serverSettings, {
    max_worker_processes: '8', max_parallel_workers: '2', max_parallel_workers_per_gather: '1', max_parallel_maintenance_workers: '1', ...PROFILE,
  });
  assert.equal(tune(config).container, { cpus: '1.5', shmSize: '256m' });
  assert.equal(lines(containerUnit({ cpus: 1.5 }), 'PodmanArgs'), ['--cpus=1.5']);
});

test('the memory limit is a Memory= key from Podman 5.5, a podman run option before; --cpus is always one', () => {
  const keys = (podmanVersion: string) => {
    const unit = containerUnit({ memory: '1536MB', cpus: 2, podmanVersion });
    return { Memory: lines(unit, 'Memory'), PodmanArgs: lines(unit, 'PodmanArgs') };
  };
  assert.equal(keys('5.5'), { Memory: ['1536m'], PodmanArgs: ['--cpus=2'] });
  assert.equal(keys('5.4'), { Memory: [], PodmanArgs: ['--memory=1536m', '--cpus=2'] });
  assert.equal(keys('4.7'), { Memory: [], PodmanArgs: ['--sdnotify=healthy', '--stop-timeout=60', '--stop-signal=SIGINT', '--memory=1536m', '--cpus=2'] });
});

test('the pool\'s container stays unlimited', () => {
  const pool = renderUnits({ memory: '4GB', cpus: 2, pool: { enabled: true }, podmanVersion: '5.5' }).find((unit) => unit.fileName.endsWith('-pool.container'));
  assert.ok(pool);
  assert.equal([lines(pool.content, 'Memory'), lines(pool.content, 'PodmanArgs'), lines(pool.content, 'ShmSize')], [[], [], []]);
});

test('the config\'s own values win, and the rules that read them use them', () => {
  const config = resolveConfig({
    memory: '4GB', cpus: 2, sharedBuffers: '512MB',
    settings: { max_parallel_workers_per_gather: 2, effective_io_concurrency: 64, huge_pages: 'off' },
  });
  const tuning = tune(config);
  const row = (setting: string) => tuning.values.find((tuned) => tuned.setting === setting);
  assert.equal(row('shared_buffers'), { setting: 'shared_buffers', target: 'server', value: '512MB', rule: '25% of memory', from: 'config', derived: '1GB' });
  // (4096 - 512) / 300 / 2 = 5.97MB
  assert.equal([row('work_mem')?.value, row('work_mem')?.from], ['5MB', 'rule']);
  // 3% of 512MB
  assert.is(row('wal_buffers')?.value, '15MB');
  assert.equal([row('max_parallel_workers_per_gather')?.value, row('max_parallel_workers_per_gather')?.derived], ['2', '1']);
  assert.equal(Object.keys(tuning.serverSettings).filter((name) => name in config.settings || name === 'shared_buffers'), []);

  const unit = containerUnit({ memory: '4GB', cpus: 2, sharedBuffers: '512MB', settings: { huge_pages: 'off' } });
  assert.match(lines(unit, 'Exec')[0] ?? '', / -c huge_pages=off /);
  assert.ok(lines(unit, 'Environment').includes('POSTGRES_SHARED_BUFFERS=512MB'));
  const expected = expectedSettings(config);
  assert.equal([expected.shared_buffers, expected.huge_pages, expected.effective_io_concurrency, expected.work_mem], ['512MB', 'off', '64', '5MB']);
});

test('a sharedBuffers equal to the rule\'s is not the config\'s own, whatever its unit', () => {
  const row = tune(resolveConfig({ memory: '4GB', sharedBuffers: '1024MB' })).values.find((tuned) => tuned.setting === 'shared_buffers');
  assert.is(row?.from, 'rule');
});

test('/dev/shm follows the config\'s own work_mem and hash_mem_multiplier', () => {
  const tuning = tune(resolveConfig({ memory: '64GB', cpus: 16, settings: { work_mem: '100MB', hash_mem_multiplier: 1 } }));
  // 2 × 1 × 16 × 100MB
  assert.is(tuning.container.shmSize, '3200m');
});

test('the fit: shared_buffers, every connection and parallel worker with its work_mem, own memory and page tables, maintenance_work_mem, the server\'s own', () => {
  const fit = memoryFit(resolveConfig({ memory: '4GB', cpus: 2 }));
  assert.ok(fit);
  // 1024 + 102 × (10 + 2 + 2) + 256 + 32 = 2740MB
  assert.equal(
    { need: fit.needKb / 1024, processes: fit.processes, perProcess: fit.perProcessKb / 1024, fits: fit.fits },
    { need: 2740, processes: 102, perProcess: 14, fits: true },
  );
  assert.is(memoryFit(resolveConfig({ cpus: 2 })), undefined, 'no memory, nothing to fit in');
  // 1GB holds the default 100 connections with 1 or 2 CPUs: 1008.5MB and 1015MB.
  assert.is(memoryFit(resolveConfig({ memory: '1GB', cpus: 2 }))?.needKb, 1015 * 1024);
});

test('a server that cannot fit is refused, naming memory, the parts and each way out', () => {
  const [issue, ...rest] = issuesOf({ memory: '1GB', cpus: 16 });
  assert.equal(rest, []);
  assert.is(
    issue,
    'memory: is too small for this server, which can use up to 1106MB: shared_buffers 256MB + 116 processes (maxConnections 100 + max_parallel_workers 16) × 6.5MB ' +
      '(work_mem 4MB, 2MB of their own, 0.5MB of page tables) + maintenance_work_mem 64MB + 32MB for the rest of the server. ' +
      'Raise memory to at least 1154MB, or lower maxConnections to 87 or fewer (docs/tuning.md)',
  );
  // Each way out is exact: it fits, and a step less does not.
  resolveConfig({ memory: '1154MB', cpus: 16 });
  assert.ok(issuesOf({ memory: '1153MB', cpus: 16 })[0]?.startsWith('memory: is too small'));
  resolveConfig({ memory: '1GB', cpus: 16, maxConnections: 87 });
  assert.ok(issuesOf({ memory: '1GB', cpus: 16, maxConnections: 88 })[0]?.startsWith('memory: is too small'));
});

test('without cpus the refusal suggests them; with the config\'s own work_mem or sharedBuffers, lowering those', () => {
  const [withoutCpus] = issuesOf({ memory: '1GB' });
  assert.match(withoutCpus ?? '', /108 processes \(maxConnections 100 \+ max_parallel_workers 8\).*, or set cpus \(max_parallel_workers follows it/);
  const [ownWorkMem] = issuesOf({ memory: '4GB', cpus: 2, settings: { work_mem: '64MB' } });
  assert.match(ownWorkMem ?? '', /work_mem \(settings\.work_mem\) 64MB.*, or lower settings\.work_mem/);
  const [ownBuffers] = issuesOf({ memory: '1GB', cpus: 2, sharedBuffers: '768MB' });
  assert.match(ownBuffers ?? '', /shared_buffers 768MB .*, or lower sharedBuffers/);
});

test('a setting the fit reads and PostgreSQL could not is named, instead of a guess at the fit', () => {
  assert.equal(issuesOf({ memory: '4GB', settings: { work_mem: 'lots' } }), [
    'settings.work_mem: cannot be read, and the tuning derived from memory and cpus depends on it: write a size such as "8MB", or a number',
  ]);
  // PostgreSQL's own forms are read: a number in the setting's unit (kB), spaces, fractions.
  for (const work_mem of [8192, '8192', '8 MB', '7.5MB']) resolveConfig({ memory: '4GB', settings: { work_mem } });
  assert.is(memoryFit(resolveConfig({ memory: '4GB', cpus: 2, settings: { work_mem: 8192 } }))?.workMemKb, 8192);
});

test('memory and cpus are checked like every field', () => {
  assert.equal(issuesOf({ memory: '4 GB' }), ['memory: must be a whole number with a unit: kB, MB, GB or TB (e.g. "4GB")']);
  assert.equal(issuesOf({ memory: '128MB' }), ['memory: must be at least 256MB']);
  assert.equal(issuesOf({ memory: 4096 as unknown as string }), ['memory: must be a size such as "4GB"']);
  assert.equal(issuesOf({ cpus: 0 }), ['cpus: must be at least 0.1 (a tenth of a CPU)']);
  assert.equal(issuesOf({ cpus: '2' as unknown as number }), ['cpus: must be a number of CPUs, such as 2 or 1.5']);
  // An invalid memory is reported once, and leaves the spec's sharedBuffers in place.
  assert.equal(issuesOf({ memory: 'big', cpus: 2 }).length, 1);
});

test.run();
