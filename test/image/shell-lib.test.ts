// lib.sh, the helper every script in the image sources, one function at a time: how a script
// fails (its status and the tool its lines name), how settings are validated (every problem at
// once), the settings' defaults, how the password is read and written, and waiting for a server.
// Pure bash: these run on any machine with bash, no PostgreSQL needed. Also shellcheck over every
// script, when it is installed (CI installs it).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skipUnless } from '../support/skip.js';
import { call, withTempDir } from './shell.js';

const IMAGE = path.resolve(import.meta.dirname, '../../image');

const lib = (code: string, env: Record<string, string> = {}, input?: string) =>
  call('lib.sh', 'eval', [code], input === undefined ? { env } : { env, input });
const lines = (text: string) => text.split('\n').filter((line) => line !== '');


const test = suite('image: lib.sh');

test('pgq_die ends the script with status 1, on one stderr line that names the tool', () => {
  const died = call('lib.sh', 'eval', ['pgq_die "the disk is full"; echo after'], { env: { pgq_tool: 'backup' } });
  assert.is(died.status, 1);
  assert.is(died.stderr, 'backup: error: the disk is full\n');
  assert.is(died.stdout, '', 'nothing after it runs');
  assert.is(lib('pgq_die oops').stderr, 'pg-quadlet: error: oops\n', 'a script that names no tool');
  const sourced = call('password.sh', 'pgq_die', ['no way']);
  assert.is(sourced.stderr, 'password: error: no way\n', 'each script names itself (pgq_tool)');
});

test("pgq_die --status N exits with N: a setting that can never work exits 78, which the unit does not restart on", () => {
  const died = lib('pgq_die --status "$PGQ_EXIT_CONFIG" "the cluster was made for another database"');
  assert.is(died.status, 78);
  assert.is(died.stderr, 'pg-quadlet: error: the cluster was made for another database\n', '--status and N are not part of the message');
  assert.is(lib('pgq_die --status 3 x').status, 3);
});

test('pgq_log writes to stderr with the tool name, never to stdout', () => {
  const logged = call('lib.sh', 'pgq_log', ['checking', 'the backup'], { env: { pgq_tool: 'restore' } });
  assert.is(logged.status, 0);
  assert.is(logged.stderr, 'restore: checking the backup\n');
  assert.is(logged.stdout, '');
});

test('every wrong setting is reported at once, one line each naming its variable, and the run exits 1', () => {
  const result = call('lib.sh', 'pgq_setup_env', [], {
    env: {
      POSTGRES_USER: 'App',
      POSTGRES_DB: 'template1',
      POSTGRES_PORT: '0',
      POSTGRES_MAX_CONNECTIONS: '10 -c fsync=off',
      POSTGRES_SHARED_BUFFERS: '1 GB',
      DOMAIN: '-example.com',
      PGDATA: 'data/pgdata',
    },
  });
  assert.is(result.status, 1);
  const reported = lines(result.stderr);
  const names = ['POSTGRES_USER', 'POSTGRES_DB', 'POSTGRES_PORT', 'POSTGRES_MAX_CONNECTIONS', 'POSTGRES_SHARED_BUFFERS', 'DOMAIN', 'PGDATA'];
  assert.is(reported.length, names.length, result.stderr);
  for (const name of names) {
    assert.ok(reported.some((line) => line.startsWith(`pg-quadlet: error: ${name}=`)), `${name} is named:\n${result.stderr}`);
  }
  assert.ok(reported.every((line) => line.startsWith('pg-quadlet: error: ')));
});

test('the checks only collect problems: the script goes on until pgq_check_end, which exits 1 when there is one', () => {
  const failing = lib(`
    pgq_check_begin
    MODE=fast
    pgq_check_match MODE '^(on|off)$' 'must be on or off'
    pgq_problem 'a second problem'
    echo 'still running'
    pgq_check_end
    echo 'not reached'`);
  assert.is(failing.status, 1);
  assert.is(failing.stdout, 'still running\n');
  assert.equal(lines(failing.stderr), ["pg-quadlet: error: MODE='fast' must be on or off", 'pg-quadlet: error: a second problem']);

  const passing = lib(`pgq_check_begin; MODE=on; pgq_check_match MODE '^(on|off)$' 'must be on or off'; pgq_check_end; echo 'goes on'`);
  assert.is(passing.status, 0);
  assert.is(passing.stdout, 'goes on\n');
  assert.is(passing.stderr, '');
  assert.is(lib('pgq_check_begin; pgq_problem old; pgq_check_begin; pgq_check_end; echo fresh').stdout, 'fresh\n', 'pgq_check_begin starts afresh');
});

test('pgq_check_path accepts absolute paths and refuses relative ones, quotes, backslashes and newlines', () => {
  const accepted = { A: '/data/postgres/pgdata', B: '/data/with space/x', C: '/' };
  const refused = { R1: 'data/pgdata', R2: '', R3: "/data/it's", R4: '/data/back\\slash', R5: '/data/new\nline', R6: './data' };
  const result = call('lib.sh', 'eval', [`pgq_check_begin; pgq_check_path ${Object.keys({ ...accepted, ...refused }).join(' ')}; pgq_check_end`], {
    env: { ...accepted, ...refused },
  });
  assert.is(result.status, 1);
  const reported = result.stderr.split('\npg-quadlet: error: ').map((line) => line.replace(/^pg-quadlet: error: /, ''));
  assert.equal(reported.map((line) => line.split('=')[0]), Object.keys(refused), result.stderr);
  assert.ok(reported.every((line) => line.includes('must be an absolute path without quotes, backslashes or newlines')));
  for (const [name, value] of Object.entries(accepted)) {
    assert.is(call('lib.sh', 'eval', [`pgq_check_begin; pgq_check_path ${name}; pgq_check_end`], { env: { [name]: value } }).status, 0, value);
  }
});

test('pgq_check_port takes 1 to 65535 and nothing else', () => {
  const port = (value: string) => lib('pgq_check_begin; pgq_check_port PORT; pgq_check_end', { PORT: value });
  for (const value of ['1', '5432', '65535']) assert.is(port(value).status, 0, value);
  for (const value of ['0', '65536', '12a', '', '-1', '05432', '99999999999999999999', ' 5432']) {
    const result = port(value);
    assert.is(result.status, 1, `'${value}' is refused`);
    assert.is(result.stderr, `pg-quadlet: error: PORT='${value}' must be a port number\n`);
  }
});

test("pgq_setup_env's defaults are the container's paths and settings, and a given value is kept", () => {
  const names = ['PGDATA', 'POSTGRES_USER', 'POSTGRES_DB', 'POSTGRES_PORT', 'POSTGRES_MAX_CONNECTIONS', 'POSTGRES_SHARED_BUFFERS',
    'POSTGRES_SOCKET_DIR', 'POSTGRES_SSL_DIR', 'POSTGRES_CERTIFICATES_DIR', 'POSTGRES_INITDB_DIR', 'POSTGRES_TEMPLATE_DIR',
    'POSTGRES_CURRENT_PASSWORD_FILE', 'DOMAIN'];
  const show = `pgq_setup_env; for name in ${names.join(' ')}; do printf '%s=%s\\n' "$name" "\${!name}"; done`;
  const defaults = lib(show);
  assert.is(defaults.status, 0, defaults.stderr);
  assert.equal(lines(defaults.stdout), [
    'PGDATA=/data/postgres/pgdata',
    'POSTGRES_USER=poststack',
    'POSTGRES_DB=poststack',
    'POSTGRES_PORT=5432',
    'POSTGRES_MAX_CONNECTIONS=100',
    'POSTGRES_SHARED_BUFFERS=256MB',
    'POSTGRES_SOCKET_DIR=/run/postgresql',
    'POSTGRES_SSL_DIR=/run/postgresql/ssl',
    'POSTGRES_CERTIFICATES_DIR=/data/certificates',
    'POSTGRES_INITDB_DIR=/data/init.d',
    'POSTGRES_TEMPLATE_DIR=/etc/postgresql',
    'POSTGRES_CURRENT_PASSWORD_FILE=/run/postgresql/current-password',
    'DOMAIN=',
  ]);

  const given = lib(show, { POSTGRES_SOCKET_DIR: '/tmp/sock', POSTGRES_DB: 'shop', DOMAIN: 'db.example.com' });
  assert.is(given.status, 0, given.stderr);
  for (const expected of ['POSTGRES_DB=shop', 'DOMAIN=db.example.com', 'POSTGRES_SOCKET_DIR=/tmp/sock', 'POSTGRES_SSL_DIR=/tmp/sock/ssl',
    'POSTGRES_CURRENT_PASSWORD_FILE=/tmp/sock/current-password']) {
    assert.ok(lines(given.stdout).includes(expected), `${expected} in:\n${given.stdout}`);
  }

  const exported = lib('pgq_setup_env; env');
  for (const name of ['PGDATA', 'POSTGRES_USER', 'POSTGRES_DB', 'POSTGRES_PORT']) {
    assert.ok(lines(exported.stdout).some((line) => line.startsWith(`${name}=`)), `${name} reaches the commands the scripts run (psql, postgres)`);
  }
});

test('the password comes from the secret file, with its trailing newlines dropped and its inner ones kept', () => {
  withTempDir((dir) => {
    const file = path.join(dir, 'secret');
    fs.writeFileSync(file, ' pa ss\nword \n\n', { mode: 0o400 });
    const read = lib('pgq_setup_env; pgq_read_password; printf "%s" "$pgq_password"', { POSTGRES_PASSWORD_FILE: file });
    assert.is(read.status, 0, read.stderr);
    assert.is(read.stdout, ' pa ss\nword ');
  });
});

test('without a secret file the password comes from POSTGRES_PASSWORD, which the commands run next do not see', () => {
  const read = lib('pgq_setup_env; pgq_read_password; printf "%s\\n" "$pgq_password"; env | grep -c "^POSTGRES_PASSWORD=" || true', { POSTGRES_PASSWORD: "it's secret" });
  assert.is(read.status, 0, read.stderr);
  assert.equal(lines(read.stdout), ["it's secret", '0']);
});

test('a password is refused when both sources are set, when it is empty and when its file is missing', () => {
  withTempDir((dir) => {
    const file = path.join(dir, 'secret');
    fs.writeFileSync(file, 'pw\n');
    const both = lib('pgq_setup_env; pgq_read_password', { POSTGRES_PASSWORD_FILE: file, POSTGRES_PASSWORD: 'also' });
    assert.is(both.status, 1);
    assert.is(both.stderr, 'pg-quadlet: error: both POSTGRES_PASSWORD_FILE and POSTGRES_PASSWORD are set: set only one\n');

    const noPassword = 'pg-quadlet: error: no password for shop: set POSTGRES_PASSWORD_FILE (a Podman secret) or POSTGRES_PASSWORD\n';
    for (const content of ['', '\n\n']) {
      fs.writeFileSync(file, content);
      const empty = lib('pgq_setup_env; pgq_read_password', { POSTGRES_PASSWORD_FILE: file, POSTGRES_USER: 'shop' });
      assert.is(empty.status, 1, JSON.stringify(content));
      assert.is(empty.stderr, noPassword);
    }
    const unset = lib('pgq_setup_env; pgq_read_password', { POSTGRES_USER: 'shop' });
    assert.is(unset.status, 1);
    assert.is(unset.stderr, noPassword);
    assert.is(lib('pgq_setup_env; pgq_read_password', { POSTGRES_USER: 'shop', POSTGRES_PASSWORD: '' }).stderr, noPassword);

    const missing = lib('pgq_setup_env; pgq_read_password', { POSTGRES_PASSWORD_FILE: path.join(dir, 'absent') });
    assert.is(missing.status, 1);
    assert.match(missing.stderr, /^pg-quadlet: error: POSTGRES_PASSWORD_FILE=\S+\/absent is missing or not readable by \S+\n$/);
  });
});

test('the current password is the one a rotation stored, and the secret until there is one', () => {
  withTempDir((dir) => {
    const secret = path.join(dir, 'secret');
    const current = path.join(dir, 'current-password');
    fs.writeFileSync(secret, 'from the secret\n');
    const env = { POSTGRES_PASSWORD_FILE: secret, POSTGRES_CURRENT_PASSWORD_FILE: current };
    const read = () => lib('pgq_setup_env; pgq_read_current_password; printf "%s" "$pgq_password"', env);

    assert.is(read().stdout, 'from the secret', 'no rotation yet');
    fs.writeFileSync(current, 'rotated\n', { mode: 0o600 });
    assert.is(read().stdout, 'rotated', 'the stored one wins over the secret');
    fs.writeFileSync(current, '');
    const empty = read();
    assert.is(empty.status, 1);
    assert.is(empty.stderr, `pg-quadlet: error: ${current} is empty\n`);
  });
});

test('pgq_write_private replaces a file by rename with a 0600 file holding the text and a newline, leaving no .tmp', () => {
  withTempDir((dir) => {
    const file = path.join(dir, 'current-password');
    fs.writeFileSync(file, 'old\n', { mode: 0o644 });
    const before = fs.statSync(file).ino;
    const text = "new 'pass'\nword $(x) \\";
    const result = call('lib.sh', 'eval', ['umask 022; pgq_write_private "$FILE" "$TEXT"; umask'], { env: { FILE: file, TEXT: text } });
    assert.is(result.status, 0, result.stderr);
    assert.is(result.stdout, '0022\n', "the caller's umask is left as it was");
    assert.is(fs.readFileSync(file, 'utf8'), `${text}\n`);
    assert.is(fs.statSync(file).mode & 0o777, 0o600, 'private, even where an older file was readable by others');
    assert.is.not(fs.statSync(file).ino, before, 'a new file renamed into place: a reader never sees half of it');
    assert.equal(fs.readdirSync(dir), ['current-password']);
  });
});

test('a password on standard input keeps its inner newlines and loses the trailing ones; none is refused', () => {
  const read = (input: string) => lib('pgq_password_from_stdin; printf "%s" "$pgq_password"', {}, input);
  assert.is(read('line one\n line two \n').stdout, 'line one\n line two ');
  assert.is(read("no newline at all'").stdout, "no newline at all'");
  for (const input of ['', '\n', '\n\n\n']) {
    const refused = read(input);
    assert.is(refused.status, 1, JSON.stringify(input));
    assert.is(refused.stderr, 'pg-quadlet: error: no password on standard input\n');
  }
});

test('pgq_wait_accepting returns once pg_isready passes, with the arguments given, and fails when its time is up', () => {
  withTempDir((dir) => {
    const calls = path.join(dir, 'calls');
    // Not ready for the first two probes, then ready.
    fs.writeFileSync(path.join(dir, 'pg_isready'), `#!/bin/bash\necho "$*" >>'${calls}'\n(( $(wc -l <'${calls}') >= 3 ))\n`, { mode: 0o755 });
    const env = { PATH: `${dir}:${process.env.PATH ?? '/usr/bin:/bin'}` };
    const ready = lib('pgq_wait_accepting 10 --host=db --port=5432', env);
    assert.is(ready.status, 0, ready.stderr);
    assert.equal(lines(fs.readFileSync(calls, 'utf8')), Array(3).fill('--quiet --timeout=1 --host=db --port=5432'));

    fs.writeFileSync(path.join(dir, 'pg_isready'), '#!/bin/bash\nexit 2\n', { mode: 0o755 });
    const started = Date.now();
    const never = lib('pgq_wait_accepting 1 --host=db', env);
    assert.is(never.status, 1);
    assert.ok(Date.now() - started < 5000, 'gives up after about its time');
  });
});

test('--wait takes a whole number of seconds', () => {
  for (const seconds of ['0', '10', '9999']) assert.is(call('lib.sh', 'pgq_check_wait_seconds', [seconds]).status, 0, seconds);
  for (const seconds of ['', 'soon', '-1', '1.5', '10000']) {
    const refused = call('lib.sh', 'pgq_check_wait_seconds', [seconds]);
    assert.is(refused.status, 1, `'${seconds}'`);
    assert.is(refused.stderr, `pg-quadlet: error: --wait takes a whole number of seconds, not '${seconds}'\n`);
  }
});

test.run();

function shellcheckMissing(): string | null {
  const found = spawnSync('shellcheck', ['--version'], { encoding: 'utf8' });
  return found.error ? 'shellcheck is not installed (apt-get install shellcheck)' : null;
}

const lint = skipUnless(suite('image: shellcheck'), shellcheckMissing(), 'shellcheck over the image scripts');

lint('shellcheck finds nothing in any script of the image, following what each sources', () => {
  const scripts = ['scripts', 'build'].flatMap((dir) =>
    fs.readdirSync(path.join(IMAGE, dir)).filter((name) => name.endsWith('.sh')).map((name) => path.join(IMAGE, dir, name)));
  assert.ok(scripts.length >= 10, `found the scripts: ${scripts.join(' ')}`);
  // As anyone runs it, from the repository's root: image/scripts/.shellcheckrc makes it follow
  // `source "${BASH_SOURCE[0]%/*}/lib.sh"` to the file next to the script.
  const result = spawnSync('shellcheck', ['-x', ...scripts], { encoding: 'utf8', cwd: path.resolve(IMAGE, '..') });
  assert.is(result.status, 0, `${result.stdout}${result.stderr}`);
});

lint.run();
