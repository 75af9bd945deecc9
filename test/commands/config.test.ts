// `config`: the effective config with each value's source, and what memory and cpus derive, each
// value with its rule, for people and (with --json) for scripts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { config, formatConfig } from '../../lib/commands/config.js';
import { createContext } from '../../lib/context.js';

test('without memory and cpus: no derived values, and the output is the config alone', async () => {
  const result = await config(createContext({ env: {}, root: '/nonexistent' }));
  assert.equal(result.tuning, []);
  const text = formatConfig(result);
  assert.match(text, /^sharedBuffers = "256MB" {2}\(default\)$/m);
  assert.not.match(text, /Derived|memory|cpus/);
});

test('each derived value with its rule; the config\'s own value with the rule\'s beside it; sharedBuffers said to be derived', async () => {
  const context = createContext({ env: {}, root: '/nonexistent', sets: ['memory=4GB', 'cpus=2', 'settings.work_mem=16MB'] });
  const result = await config(context);
  const text = formatConfig(result);
  assert.match(text, /^memory = "4GB" {2}\(--set memory\)$/m);
  assert.match(text, /^cpus = 2 {2}\(--set cpus\)$/m);
  assert.match(text, /^sharedBuffers = "1GB" {2}\(derived: 25% of memory\)$/m);
  const derived = text.slice(text.indexOf('\nDerived from memory and cpus'));
  assert.equal(derived.split('\n').slice(2), [
    '  shared_buffers = 1GB  (25% of memory)',
    '  effective_cache_size = 3GB  (75% of memory)',
    '  maintenance_work_mem = 256MB  (memory / 16, at most 2GB)',
    "  max_worker_processes = 8  (cpus, at least PostgreSQL's default of 8)",
    '  max_parallel_workers = 2  (cpus)',
    '  max_parallel_workers_per_gather = 1  (half the cpus rounded up, at most 4; 0 with one CPU)',
    '  max_parallel_maintenance_workers = 1  (half the cpus rounded up, at most 4; 0 with one CPU)',
    '  work_mem = 16MB  (set by settings.work_mem; the rule, (memory - shared_buffers) / (3 × maxConnections) / max_parallel_workers_per_gather, at least 4MB, gives 10MB)',
    '  wal_buffers = 16MB  (3% of shared_buffers, from 64kB to 16MB)',
    '  random_page_cost = 1.1  (for SSDs)',
    '  effective_io_concurrency = 200  (for SSDs)',
    '  huge_pages = try  (huge pages when the host has them reserved)',
    "  the container's ShmSize = 256m  (2 × hash_mem_multiplier × max_parallel_workers × work_mem, at least 256m)",
  ]);

  // --json prints the result as it is: the table with values, rules and where each came from.
  const json = JSON.parse(JSON.stringify(result)) as { tuning: Array<Record<string, string>> };
  assert.equal(json.tuning.find((row) => row.setting === 'work_mem'), {
    setting: 'work_mem', target: 'server', value: '16MB', rule: '(memory - shared_buffers) / (3 × maxConnections) / max_parallel_workers_per_gather, at least 4MB', from: 'config', derived: '10MB',
  });
  assert.is(json.tuning.length, 13);
});

test.run();
