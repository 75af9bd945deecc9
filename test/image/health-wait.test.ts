// health-check.sh --wait, the units' start-up check: it holds until the server takes TCP
// connections (so `systemctl start` returns as soon as the server is ready, not at Podman's next
// check), and still never passes during the first start's initialization.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skipUnless } from '../support/skip.js';
import { sandboxMissing, sleep, withSandbox } from './sandbox.js';

const test = skipUnless(suite('image: health check --wait'), sandboxMissing(), 'image scripts against PostgreSQL 15');

test('waits through the first start and passes once the server is ready; gives up after its time', async () => {
  await withSandbox(async (box) => {
    const check = (seconds: string) => box.runAsPostgres(path.join(box.paths.scripts, 'health-check.sh'), ['--wait', seconds]);

    const nothing = Date.now();
    const refused = await check('1');
    assert.is.not(refused.exitCode, 0, 'no server: fails');
    assert.ok(Date.now() - nothing < 4000, `gives up after about its time (${Date.now() - nothing} ms)`);

    const reached = path.join(box.dir, 'init-reached');
    const release = path.join(box.dir, 'init-release');
    box.addInitFile('010-wait.sh', `: > '${reached}'\nwhile [ ! -e '${release}' ]; do sleep 0.05; done\n`);
    const server = box.start();
    for (const deadline = Date.now() + 60_000; !fs.existsSync(reached); await sleep(50)) {
      if (Date.now() > deadline) throw new Error(`the first start did not reach the init file:\n${server.output()}`);
    }
    const waiting = check('30');
    await sleep(1000);
    assert.is(waiting.exitCode, null, 'still waiting while the first start runs');
    fs.writeFileSync(release, '');
    const released = Date.now();
    const result = await waiting;
    assert.is(result.exitCode, 0, String(result.all));
    await box.waitReady(server);
    assert.ok(Date.now() - released < 15_000, 'passes as soon as the server is ready');

    const invalid = await check('soon');
    assert.is.not(invalid.exitCode, 0);
    assert.match(String(invalid.all), /--wait takes a whole number of seconds/);
  });
});

test.run();
