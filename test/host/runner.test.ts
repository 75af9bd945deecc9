// The real runner, as install uses it to create the password secret: `podman secret create NAME -`
// reads only from a pipe, and refuses the socket Node gives a child as standard input.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execaRunner } from '../../lib/host/runner.js';

test('input reaches the command through a pipe, as podman secret create - demands', async () => {
  const result = await execaRunner().run('sh', ['-c', 'test -p /dev/stdin && cat'], { input: "p'w $x\n" });
  assert.equal(result, { exitCode: 0, stdout: "p'w $x", stderr: '' });
});

test('arguments stay separate words, and the exit code is the command\'s', async () => {
  const result = await execaRunner().run('sh', ['-c', 'cat >/dev/null; printf "%s|" "$@"; exit 3', 'sh', 'a b', '$c'], { input: 'x' });
  assert.equal(result, { exitCode: 3, stdout: 'a b|$c|', stderr: '' });
});

test('without input, the command runs directly', async () => {
  const result = await execaRunner().run('sh', ['-c', 'echo "$0"']);
  assert.equal(result, { exitCode: 0, stdout: 'sh', stderr: '' });
});

test.run();
