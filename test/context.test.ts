// createContext: the one way every command gets its config, paths and runner.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createContext } from '../lib/context.js';

test('--user makes the service rootless once, said to come from --user, with the user\'s paths', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-quadlet-home-'));
  try {
    const context = createContext({ user: true, env: { HOME: home } });
    assert.is(context.config.rootless, true);
    assert.is(context.sources.rootless, '--user');
    assert.is(context.paths.quadletDir, path.join(home, '.config/containers/systemd'));
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});

test('--root finds the config file under that root, for every command alike', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-quadlet-root-'));
  try {
    fs.mkdirSync(path.join(root, 'etc/pg-quadlet'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/pg-quadlet/config.ini'), 'name = underroot\n');
    const context = createContext({ root, env: { HOME: root } });
    assert.is(context.config.name, 'underroot');
    assert.is(context.configFile, path.join(root, 'etc/pg-quadlet/config.ini'));
    assert.is(context.paths.quadletDir, path.join(root, 'etc/containers/systemd'));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test.run();
