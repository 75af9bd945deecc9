// A container sized by the config, for real: the image built from image/ with Podman 5.4, started
// with what the rendered unit says (the `-c` settings of Exec=, the environment, ShmSize= and the
// PodmanArgs= limits), reports the derived settings (compared as `status` compares them) and its
// /dev/shm; where this host lets Podman set limits, its cgroup's memory.max and cpu.max too.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { expectedSettings, settingDrift, type LiveSetting } from '../../lib/core/settings.js';
import { renderUnits, resolveConfig, type PostgresServiceInput } from '../../lib/index.js';
import { findProcess, removeTestContainer, trixie, trixieMust } from '../support/container-process.js';
import { systemdMissing, trixieRoot, trixieScript } from '../support/real-tools.js';
import { skipUnless } from '../support/skip.js';
import { freePort, sleep } from './sandbox.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const TAG = 'localhost/pg-quadlet-tuning-test:latest';
const PASSWORD = 'tuning-test-password';
// 2GB and 2 CPUs: shared_buffers 512MB, work_mem 5MB, wal_buffers 15MB, one worker per gather.
const SIZED: PostgresServiceInput = { memory: '2GB', cpus: 2 };

function containerMissing(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (namespaces, chroot)';
  if (!fs.existsSync(trixieScript)) return `${trixieScript} is missing`;
  return systemdMissing();
}

const settings = skipUnless(suite('image: a sized container\'s settings'), containerMissing(), 'the derived settings in a real container');

function unitLines(content: string, key: string): string[] {
  return content.split('\n').filter((line) => line.startsWith(`${key}=`)).map((line) => line.slice(key.length + 1));
}

/**
 * `podman run` options and command from the rendered unit: what Quadlet would pass for them, but
 * the limits. These machines have the memory and cpu controllers as cgroup v1 hierarchies, where
 * crun cannot apply `--memory` or `--cpus` (it looks for `memory.max`): the limits themselves are
 * Podman's to enforce, and their rendering is checked in test/core/tuning.test.ts and by the
 * Quadlet generator (test/core/real-units.test.ts).
 */
function fromUnit(): { options: string[]; command: string[]; environment: string[] } {
  const unit = renderUnits(SIZED).find((candidate) => candidate.fileName === 'poststack-postgres.container');
  assert.ok(unit);
  const exec = unitLines(unit.content, 'Exec')[0] ?? '';
  assert.not.match(exec, /["'\\%$]/, 'the derived settings need no quoting');
  const podmanArgs = unitLines(unit.content, 'PodmanArgs');
  assert.equal(podmanArgs, ['--memory=2g', '--cpus=2']);
  return {
    options: unitLines(unit.content, 'ShmSize').map((size) => `--shm-size=${size}`),
    command: exec.split(' '),
    environment: unitLines(unit.content, 'Environment').filter((variable) => /^POSTGRES_(MAX_CONNECTIONS|SHARED_BUFFERS|DB|USER)=/.test(variable)),
  };
}

interface Running {
  readonly pid: number;
  readonly client: () => pg.Client;
}

/** Builds the image, starts it as the sized unit would (with or without its limits), runs `body`
 * while it serves, then stops it and removes what it made. */
async function withSizedContainer(body: (running: Running) => Promise<void>): Promise<void> {
  const id = randomBytes(4).toString('hex');
  const names = { secret: `pg-tuning-test-${id}`, data: `pg-tuning-test-data-${id}`, backups: `pg-tuning-test-backups-${id}` };
  const inTree = `/var/tmp/pg-tuning-test-${id}`;
  const hostDir = path.join(trixieRoot, inTree);
  const port = await freePort();
  const marker = `PG_TUNING_TEST_RUN=${id}`;
  let run: ReturnType<typeof trixie> | undefined;
  let pid: number | undefined;
  try {
    await trixieMust(['base-image']);
    await trixieMust(['build', path.join(REPO, 'image'), TAG, '--build-arg', 'BASE_IMAGE=localhost/base-debian:latest']);
    fs.mkdirSync(hostDir, { recursive: true });
    fs.writeFileSync(path.join(hostDir, 'password'), PASSWORD, { mode: 0o600 });
    await trixieMust(['run-podman', 'secret', 'create', names.secret, `${inTree}/password`]);

    const { options, command, environment } = fromUnit();
    const current = trixie([
      'run-podman', 'run', '--rm', `--name=pg-tuning-test-${id}`,
      '--read-only', '--cap-drop=all', '--security-opt=no-new-privileges', ...options,
      `--secret=${names.secret},type=mount,target=postgres-password,uid=999,gid=999,mode=0400`,
      '--env=POSTGRES_PASSWORD_FILE=/run/secrets/postgres-password', ...environment.map((variable) => `--env=${variable}`),
      `--env=POSTGRES_PORT=${port}`, `--env=${marker}`,
      `--volume=${names.data}:/data/postgres`, `--volume=${names.backups}:/data/postgres/backups`,
      TAG, ...command,
    ]);
    run = current;
    const client = () => new pg.Client({ host: '127.0.0.1', port, user: 'poststack', database: 'poststack', password: PASSWORD, connectionTimeoutMillis: 5000 });
    const deadline = Date.now() + 120_000;
    for (;;) {
      const probe = client();
      const connected = await probe.connect().then(() => true, () => false);
      await probe.end().catch(() => undefined);
      if (connected) break;
      if (current.exitCode !== null || Date.now() > deadline) throw new Error(`the sized container did not become ready:\n${(await current).all}`);
      await sleep(200);
    }
    pid = findProcess(marker, 'postgres');
    assert.ok(pid, 'the server process is found');
    await body({ pid, client });
    process.kill(pid, 'SIGINT');
    const result = await current;
    assert.is(result.exitCode, 0, String(result.all));
    run = undefined;
  } finally {
    await removeTestContainer({ run, pid, names, hostDir });
  }
}

/** The server's settings as `status` reads them: pg_settings rows, and SHOW's text. */
async function liveSettings(client: pg.Client, names: string[]): Promise<{ rows: LiveSetting[]; shown: Record<string, string> }> {
  const { rows } = await client.query<LiveSetting & { shown: string }>(
    'SELECT name, setting, unit, vartype, current_setting(name) AS shown FROM pg_settings WHERE name = ANY($1)',
    [names],
  );
  return { rows, shown: Object.fromEntries(rows.map((row) => [row.name, row.shown])) };
}

settings('the rendered -c settings, shared_buffers from the environment and the /dev/shm size reach the server', async () => {
  await withSizedContainer(async ({ pid, client }) => {
    const expected = expectedSettings(resolveConfig(SIZED));
    const c = client();
    await c.connect();
    try {
      const { rows, shown } = await liveSettings(c, Object.keys(expected));
      assert.is(rows.length, Object.keys(expected).length, 'every expected setting is known to the server');
      assert.equal(settingDrift(expected, rows, shown), [], 'status would see no drift');
      assert.equal(
        [shown.shared_buffers, shown.work_mem, shown.effective_cache_size, shown.wal_buffers, shown.max_parallel_workers_per_gather, shown.huge_pages],
        ['512MB', '5MB', '1536MB', '15MB', '1', 'try'],
      );
    } finally {
      await c.end();
    }
    const shm = fs.statfsSync(`/proc/${pid}/root/dev/shm`);
    assert.is(shm.blocks * shm.bsize, 256 * 1024 * 1024, '/dev/shm is ShmSize=256m');
  });
});

settings.run();
