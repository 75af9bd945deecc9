// What the health check reports through a server's life, and that the stop signal reaches the
// server itself (the entrypoint execs it) and shuts it down cleanly.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skipUnless } from '../support/skip.js';
import { connectError, sandboxMissing, sleep, withSandbox } from './sandbox.js';

const test = skipUnless(suite('image: lifecycle'), sandboxMissing(), 'image scripts against PostgreSQL 15');

async function waitFor(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('healthy only between the end of the first start and the stop signal; SIGTERM shuts down cleanly', async () => {
  await withSandbox(async (box) => {
    // An init file that holds the first start until the test lets it go.
    const reached = path.join(box.dir, 'init-reached');
    const release = path.join(box.dir, 'init-release');
    box.addInitFile('010-wait.sh', `: > '${reached}'\nwhile [ ! -e '${release}' ]; do sleep 0.05; done\n`);
    const server = box.start();
    await waitFor('the init file', () => fs.existsSync(reached));

    assert.ok(fs.existsSync(path.join(box.paths.socket, `.s.PGSQL.${box.port}`)), 'the first-start server is up on its socket');
    assert.not.ok(await box.healthy(), 'not healthy during the first start');
    assert.is(await connectError(box), 'ECONNREFUSED', 'no TCP during the first start');

    fs.writeFileSync(release, '');
    await box.waitReady(server);
    assert.ok(await box.healthy(), 'healthy when up');
    assert.not.ok(await box.healthy({ POSTGRES_DB: 'other' }), 'a database that does not exist is not healthy');

    // A connected client holds a smart shutdown (SIGTERM) open: the server is stopping, not gone.
    const client = await box.connect();
    client.on('error', () => undefined);
    server.process.kill('SIGTERM');
    await waitFor('the shutdown to begin', () => /received smart shutdown request/.test(server.output()));
    assert.not.ok(await box.healthy(), 'not healthy while stopping');
    await client.end();

    assert.is(await server.exited, 0, 'the server itself got SIGTERM and exited cleanly');
    assert.match(server.output(), /database system is shut down/);
    assert.is(await box.clusterState(), 'shut down');
    assert.not.ok(await box.healthy(), 'not healthy after the stop');
    assert.not.ok(fs.existsSync(path.join(box.paths.pgdata, 'postmaster.pid')));

    const again = await box.startReady();
    assert.not.match(again.output(), /not properly shut down|automatic recovery/);
    assert.is(await box.stop(again, 'SIGTERM'), 0);
    assert.is(await box.clusterState(), 'shut down');
  });
});

test('a command other than the server runs as given, without touching the data directory', async () => {
  await withSandbox(async (box) => {
    const result = await box.runAsPostgres(path.join(box.paths.scripts, 'entrypoint.sh'), ['psql', '--version']);
    assert.is(result.exitCode, 0);
    assert.match(String(result.stdout), /^psql \(PostgreSQL\) 15\./);
    assert.not.ok(fs.existsSync(box.paths.pgdata));
  });
});

test.run();
