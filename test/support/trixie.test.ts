// Images for the machine tests are built by test/support/trixie.sh: prove it builds and runs one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { systemdMissing, trixie } from './real-tools.js';
import { skipUnless } from './skip.js';

const podman = skipUnless(test, systemdMissing(), 'Podman build in the trixie tree');

podman('a trivial image builds on the base image and runs', async () => {
  const base = await trixie(['base-image']);
  assert.is(base.exitCode, 0, base.output);

  const context = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-quadlet-build-'));
  const tag = `localhost/pg-quadlet-trivial:${process.pid}`;
  try {
    fs.writeFileSync(
      path.join(context, 'Containerfile'),
      'FROM localhost/base-debian:latest\nRUN true\nCMD ["echo", "built in trixie"]\n',
    );
    const build = await trixie(['build', context, tag]);
    assert.is(build.exitCode, 0, build.output);

    const run = await trixie(['run-podman', 'run', '--rm', tag]);
    assert.is(run.exitCode, 0, run.output);
    assert.is(run.output.trim(), 'built in trixie');

    const failing = await trixie(['run-podman', 'run', '--rm', tag, 'sh', '-c', 'exit 3']);
    assert.is(failing.exitCode, 3, failing.output);
  } finally {
    await trixie(['run-podman', 'rmi', '--ignore', tag]);
    fs.rmSync(context, { recursive: true, force: true });
  }
});

test.run();
