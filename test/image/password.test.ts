// password.sh, what pg-quadlet password runs in the container: the new password arrives on
// standard input, the role takes it, the health check logs in with it, and sessions already
// logged in carry on.
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skipUnless } from '../support/skip.js';
import { connectError, sandboxMissing, TORTURE_PASSWORD, withSandbox } from './sandbox.js';

const test = skipUnless(suite('image: password rotation'), sandboxMissing(), 'image scripts against PostgreSQL 15');

const NEW_PASSWORD = `new ${TORTURE_PASSWORD} 🔁`;

test('the new password works and the old one stops working; the health check follows; an open session is unaffected; nothing is logged', async () => {
  await withSandbox(async (box) => {
    const server = await box.startReady();
    const open = await box.connect();
    const result = await box.runAsPostgres(path.join(box.paths.scripts, 'password.sh'), [], { input: NEW_PASSWORD });
    assert.is(result.exitCode, 0, String(result.all));
    assert.match(String(result.all), /password: the password of role poststack is changed/);

    assert.is(await connectError(box), '28P01', 'the old password is refused');
    assert.is(await connectError(box, { password: NEW_PASSWORD }), 'connected', 'the new one works');
    assert.equal((await open.query('SELECT 1 AS still')).rows, [{ still: 1 }], 'a session logged in before carries on');
    await open.end();
    assert.ok(await box.healthy(), 'the health check logs in with the new password');
    assert.not.ok(server.output().includes('🔁'), 'the password is in no log line');
    assert.not.ok(String(result.all).includes('🔁'));
  });
});

test('no password, or an argument, is refused and changes nothing', async () => {
  await withSandbox(async (box) => {
    await box.startReady();
    const empty = await box.runAsPostgres(path.join(box.paths.scripts, 'password.sh'), [], { input: '' });
    assert.is(empty.exitCode, 1);
    assert.match(String(empty.all), /password: error: no password on standard input/);
    const argument = await box.runAsPostgres(path.join(box.paths.scripts, 'password.sh'), ['secret'], { input: 'x' });
    assert.is(argument.exitCode, 1);
    assert.match(String(argument.all), /takes no arguments: the new password comes on standard input/);
    assert.is(await connectError(box), 'connected', 'the password is unchanged');
  });
});

test.run();
