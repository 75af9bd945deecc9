// The configuration every start renders: settings from the environment and from the server's
// arguments, logs on stderr, pg_stat_statements loaded.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skipUnless } from '../support/skip.js';
import { type Sandbox, sandboxMissing, withSandbox } from './sandbox.js';

const test = skipUnless(suite('image: configuration'), sandboxMissing(), 'image scripts against PostgreSQL 15');

/** The settings as the running server has them (read by the superuser: some are restricted). */
async function show(box: Sandbox, ...names: string[]): Promise<Record<string, string>> {
  const list = names.map((n) => `'${n}'`).join(', ');
  return JSON.parse(await box.superuser(`SELECT json_object_agg(n, current_setting(n)) FROM unnest(ARRAY[${list}]) AS n`));
}

test('the environment and `-c` arguments reach the server, and a restart renders the new values', async () => {
  await withSandbox(async (box) => {
    const first = await box.startReady({
      env: { POSTGRES_MAX_CONNECTIONS: '37', POSTGRES_SHARED_BUFFERS: '48MB' },
      args: ['postgres', '-c', 'work_mem=7MB', '-c', 'application_name=from args'],
    });
    assert.equal(
      await show(box, 'max_connections', 'shared_buffers', 'work_mem', 'shared_preload_libraries', 'logging_collector', 'ssl', 'port', 'recovery_init_sync_method'),
      {
        max_connections: '37',
        shared_buffers: '48MB',
        work_mem: '7MB',
        shared_preload_libraries: 'pg_stat_statements',
        logging_collector: 'off',
        ssl: 'off',
        port: String(box.port),
        // After a crash or a restore: one syncfs() instead of an fsync() of every file.
        recovery_init_sync_method: 'syncfs',
      },
    );
    assert.is(await box.stop(first), 0);

    const second = await box.startReady({ env: { POSTGRES_MAX_CONNECTIONS: '41', POSTGRES_SHARED_BUFFERS: '2048kB' } });
    assert.equal(await show(box, 'max_connections', 'shared_buffers', 'work_mem'), {
      max_connections: '41',
      shared_buffers: '2MB',
      work_mem: '4MB',
    });
    assert.is(await box.stop(second), 0);
  });
});

test('the server logs to stderr, with no log collector writing files into the data directory', async () => {
  await withSandbox(async (box) => {
    const server = await box.startReady();
    await box.connect({ password: 'wrong' }).catch(() => undefined);
    assert.match(server.output(), /LOG: {2}database system is ready to accept connections/);
    assert.match(server.output(), /poststack@poststack FATAL: {2}password authentication failed for user "poststack"/);
    assert.not.ok(fs.existsSync(path.join(box.paths.pgdata, 'log')));
    assert.is(await box.stop(server), 0);
  });
});

test('a template placeholder nothing fills stops the start instead of rendering an empty setting', async () => {
  await withSandbox(async (box) => {
    fs.appendFileSync(path.join(box.paths.templates, 'postgresql.conf.template'), 'archive_command = @ARCHIVE@\n');
    const server = box.start();
    assert.is(await server.exited, 1);
    assert.match(server.output(), /postgresql\.conf\.template has the placeholder @ARCHIVE@, which nothing fills/);
  });
});

test.run();
