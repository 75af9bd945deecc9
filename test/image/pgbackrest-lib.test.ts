// pgbackrest-lib.sh and pgbackrest.sh's own rules, one function at a time: the configuration
// written from the environment (byte for byte, with the container's defaults), how every setting
// is checked, the commands the server runs, the restore's targets, and the data directory moved
// aside and put back. Pure bash and coreutils: no PostgreSQL or pgBackRest needed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { call, SCRIPTS, withTempDir, type Shell } from './shell.js';

/** Sources image/scripts/SCRIPT and runs CODE with only ENV; PATH first holds a fake `nproc`
 * that reports `cpus`. */
function run(script: string, code: string, env: Record<string, string> = {}, cpus = 2): Shell {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'pgq-nproc-'));
  try {
    fs.writeFileSync(path.join(bin, 'nproc'), `#!/bin/sh\necho ${cpus}\n`, { mode: 0o755 });
    return call(script, 'eval', [code], { env: { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, ...env } });
  } finally {
    fs.rmSync(bin, { recursive: true, force: true });
  }
}

const lib = (code: string, env: Record<string, string> = {}, cpus = 2) => run('pgbackrest-lib.sh', `pgq_setup_env; pgq_pgbackrest_setup_env; ${code}`, env, cpus);

function ok(shell: Shell): string {
  if (shell.status !== 0) throw new Error(`exit ${shell.status}: ${shell.stderr}`);
  return shell.stdout;
}


const test = suite('image: pgbackrest-lib.sh');

test("the configuration with the container's defaults, byte for byte", () => {
  assert.is(ok(lib('pgq_pgbackrest_config_text')), [
    "# Written by pg-quadlet's scripts from the environment at every start: edits are lost.",
    '# See docs/pgbackrest.md.',
    '[global]',
    'repo1-path=/data/postgres/backups/pgbackrest',
    'repo1-bundle=y',
    'repo1-retention-full-type=time',
    'repo1-retention-full=7',
    'compress-type=zst',
    'compress-level=3',
    'process-max=2',
    'start-fast=y',
    'archive-async=y',
    'spool-path=/data/postgres/pgbackrest-spool',
    'lock-path=/run/postgresql/pgbackrest/lock',
    'log-level-console=info',
    'log-level-stderr=warn',
    'log-level-file=off',
    '',
    '[global:archive-push]',
    'log-level-console=warn',
    '',
    '[global:archive-get]',
    'log-level-console=warn',
    'archive-async=n',
    '',
    '[main]',
    'pg1-path=/data/postgres/pgdata',
    'pg1-socket-path=/run/postgresql',
    'pg1-port=5432',
    'pg1-user=postgres',
    '',
  ].join('\n'));
  assert.is(ok(lib('printf "%s\\n" "$PGBACKREST_CONFIG"; env | grep -c "^PGBACKREST_CONFIG="')), '/run/postgresql/pgbackrest/pgbackrest.conf\n1\n', 'exported for the scripts');
});

test('the settings from the environment: stanza, paths, compression, processes, retention', () => {
  const text = ok(lib('pgq_pgbackrest_config_text', {
    PGDATA: '/srv/pg/data',
    POSTGRES_PORT: '5433',
    POSTGRES_SOCKET_DIR: '/tmp/sock',
    POSTGRES_BACKUP_DIR: '/srv/backups',
    PGBACKREST_STANZA: 'orders-db',
    PGBACKREST_SPOOL_PATH: '/srv/spool',
    PGBACKREST_COMPRESS_TYPE: 'lz4',
    PGBACKREST_COMPRESS_LEVEL: '-5',
    PGBACKREST_PROCESS_MAX: '12',
    BACKUP_KEEP_DAYS: '14',
  }));
  for (const line of ['repo1-path=/srv/backups/pgbackrest', 'repo1-retention-full=14', 'compress-type=lz4', 'compress-level=-5', 'process-max=12',
    'spool-path=/srv/spool', 'lock-path=/tmp/sock/pgbackrest/lock', '[orders-db]', 'pg1-path=/srv/pg/data', 'pg1-socket-path=/tmp/sock', 'pg1-port=5433']) {
    assert.ok(text.split('\n').includes(line), `${line} in:\n${text}`);
  }
  assert.match(ok(lib('pgq_pgbackrest_config_text', { PGBACKREST_REPO1_PATH: '/elsewhere/repo' })), /^repo1-path=\/elsewhere\/repo$/m);
  assert.match(ok(lib('pgq_pgbackrest_config_text', { PGDATA: '/srv/pg/data' })), /^spool-path=\/srv\/pg\/pgbackrest-spool$/m, 'the spool is beside PGDATA, on the data volume');
});

test('BACKUP_KEEP_DAYS=0 keeps the newest full backup only (pgBackRest has no zero-day time retention)', () => {
  assert.match(ok(lib('pgq_pgbackrest_config_text', { BACKUP_KEEP_DAYS: '0' })), /^repo1-retention-full-type=count\nrepo1-retention-full=1$/m);
  assert.match(ok(lib('pgq_pgbackrest_config_text', { BACKUP_KEEP_DAYS: '007' })), /^repo1-retention-full-type=time\nrepo1-retention-full=7$/m, 'leading zeros are not octal');
});

test('process-max follows the CPUs, 1 to 4; a cgroup CPU quota counts, rounded up', () => {
  const processes = (cpus: number) => ok(lib('echo "$PGBACKREST_PROCESS_MAX"', {}, cpus)).trim();
  assert.equal([1, 2, 3, 4, 16].map(processes), ['1', '2', '3', '4', '4']);
  withTempDir((dir) => {
    const quota = (text: string, cpus: number) => {
      fs.writeFileSync(path.join(dir, 'cpu.max'), text);
      return ok(run('pgbackrest-lib.sh', `pgq_cpus ${path.join(dir, 'cpu.max')}`, {}, cpus)).trim();
    };
    assert.is(quota('max 100000\n', 8), '8', 'no quota');
    assert.is(quota('150000 100000\n', 8), '2', '1.5 CPUs of quota');
    assert.is(quota('400000 100000\n', 2), '2', 'a quota above the CPU set');
    assert.is(ok(run('pgbackrest-lib.sh', `pgq_cpus ${path.join(dir, 'missing')}`, {}, 3)).trim(), '3', 'cgroup v1: no file');
  });
});

test('every bad setting is reported at once, each naming its variable, before anything is written', () => {
  const result = lib('echo unreachable', {
    PGBACKREST_STANZA: 'my stanza',
    PGBACKREST_REPO1_PATH: 'relative/repo',
    PGBACKREST_SPOOL_PATH: "/spool'x",
    PGBACKREST_PROCESS_MAX: '0',
    PGBACKREST_COMPRESS_TYPE: 'xz',
    BACKUP_KEEP_DAYS: '-1',
    POSTGRES_ARCHIVE_TIMEOUT: '1min',
  });
  assert.is(result.status, 1);
  assert.is(result.stdout, '');
  for (const name of ['PGBACKREST_STANZA', 'PGBACKREST_REPO1_PATH', 'PGBACKREST_SPOOL_PATH', 'PGBACKREST_PROCESS_MAX', 'PGBACKREST_COMPRESS_TYPE', 'BACKUP_KEEP_DAYS', 'POSTGRES_ARCHIVE_TIMEOUT']) {
    assert.match(result.stderr, new RegExp(`^pg-quadlet: error: ${name}=`, 'm'), name);
  }
  const socket = lib('true', { POSTGRES_SOCKET_DIR: '/run/my postgres' });
  assert.is(socket.status, 1);
  assert.match(socket.stderr, /POSTGRES_SOCKET_DIR='\/run\/my postgres' must be a path of letters, digits and \. _ \/ \+ - only \(archive_command names a file in it\)/);
});

/** The environment of an off-host repository whose keys and passphrase are files in `dir`. */
function offsite(dir: string, keys = 'AKIAEXAMPLE\nwJalr/SECRET\n'): Record<string, string> {
  fs.writeFileSync(path.join(dir, 'keys'), keys);
  fs.writeFileSync(path.join(dir, 'passphrase'), 'correct horse battery staple\n');
  return {
    PGBACKREST_REPO2_TYPE: 's3',
    PGBACKREST_REPO2_S3_ENDPOINT: 's3.eu-central-1.amazonaws.com',
    PGBACKREST_REPO2_S3_BUCKET: 'backups',
    PGBACKREST_REPO2_S3_REGION: 'eu-central-1',
    PGBACKREST_REPO2_PATH: '/pg-quadlet/db1',
    POSTGRES_BACKUP_S3_KEYS_FILE: path.join(dir, 'keys'),
    POSTGRES_BACKUP_ENCRYPT: 'aes-256-cbc',
    POSTGRES_BACKUP_PASSPHRASE_FILE: path.join(dir, 'passphrase'),
  };
}

test('the off-host repository and encryption: their lines, with the keys and passphrase read from their files into the configuration only', () => {
  withTempDir((dir) => {
    const env = offsite(dir);
    const text = ok(lib('pgq_pgbackrest_read_secrets; pgq_pgbackrest_config_text; env | grep -c -e wJalr -e horse || true', env));
    const lines = text.split('\n');
    for (const line of [
      'repo1-cipher-type=aes-256-cbc', 'repo1-cipher-pass=correct horse battery staple',
      'repo2-type=s3', 'repo2-path=/pg-quadlet/db1', 'repo2-s3-endpoint=s3.eu-central-1.amazonaws.com', 'repo2-s3-bucket=backups',
      'repo2-s3-region=eu-central-1', 'repo2-s3-uri-style=host', 'repo2-s3-key=AKIAEXAMPLE', 'repo2-s3-key-secret=wJalr/SECRET',
      'repo2-bundle=y', 'repo2-retention-full-type=time', 'repo2-retention-full=7',
      'repo2-cipher-type=aes-256-cbc', 'repo2-cipher-pass=correct horse battery staple',
    ]) {
      assert.ok(lines.includes(line), line);
    }
    assert.is(lines.at(-2), '0', 'no secret in the environment');
    assert.not.ok(lines.some((line) => line.startsWith('repo2-storage-')), 'the port and CA only when given');
  });
});

test('bad off-host settings and secret files are refused, each named with its fix', () => {
  withTempDir((dir) => {
    const env = { ...offsite(dir), PGBACKREST_REPO2_S3_BUCKET: '', PGBACKREST_REPO2_S3_URI_STYLE: 'virtual', PGBACKREST_REPO2_STORAGE_PORT: '0' };
    const bad = lib('true', env);
    assert.is(bad.status, 1);
    for (const name of ['PGBACKREST_REPO2_S3_BUCKET', 'PGBACKREST_REPO2_S3_URI_STYLE', 'PGBACKREST_REPO2_STORAGE_PORT']) assert.match(bad.stderr, new RegExp(`${name}=`));
    const oneLine = lib('pgq_pgbackrest_read_secrets', offsite(dir, 'AKIAEXAMPLE\n'));
    assert.is(oneLine.status, 78);
    assert.match(oneLine.stderr, /keys must hold the S3 access key ID on its first line and the secret access key on its second/);
    const missing = lib('pgq_pgbackrest_read_secrets', { ...offsite(dir), POSTGRES_BACKUP_PASSPHRASE_FILE: path.join(dir, 'none') });
    assert.match(missing.stderr, /cannot read the backup passphrase from \S+none as \S+: is the Podman secret there\?/);
    assert.match(lib('true', { POSTGRES_BACKUP_ENCRYPT: 'aes-128' }).stderr, /POSTGRES_BACKUP_ENCRYPT='aes-128' must be aes-256-cbc or none/);
  });
});

test('a repository whose encryption disagrees with the setting stops the start (78) with the way out; one that agrees passes', () => {
  withTempDir((dir) => {
    const info = path.join(dir, 'repo/archive/main');
    fs.mkdirSync(info, { recursive: true });
    const check = (content: string, encrypt: string) => {
      fs.writeFileSync(path.join(info, 'archive.info'), content);
      return lib('pgq_pgbackrest_check_cipher', { PGBACKREST_REPO1_PATH: path.join(dir, 'repo'), POSTGRES_BACKUP_ENCRYPT: encrypt, POSTGRES_BACKUP_PASSPHRASE_FILE: '/run/secrets/p' });
    };
    const encrypted = check('Salted__\u0001binary', 'none');
    assert.is(encrypted.status, 78);
    assert.match(encrypted.stderr, /is encrypted, and POSTGRES_BACKUP_ENCRYPT is none: set it to aes-256-cbc with the repository's passphrase/);
    const plain = check('[backrest]\nbackrest-format=5\n', 'aes-256-cbc');
    assert.is(plain.status, 78);
    assert.match(plain.stderr, /was made without encryption, and pgBackRest cannot encrypt a repository that holds backups/);
    assert.is(check('Salted__x', 'aes-256-cbc').status, 0);
    assert.is(check('[backrest]\n', 'none').status, 0);
  });
});

test("compression levels within each type's range", () => {
  const level = (type: string, value: string) => lib('true', { PGBACKREST_COMPRESS_TYPE: type, PGBACKREST_COMPRESS_LEVEL: value }).status;
  assert.equal([level('zst', '-7'), level('zst', '22'), level('zst', '23'), level('zst', '-8')], [0, 0, 1, 1]);
  assert.equal([level('lz4', '12'), level('lz4', '13'), level('gz', '-1'), level('gz', '10')], [0, 1, 0, 1]);
  assert.equal([level('bz2', '1'), level('bz2', '0'), level('none', 'anything')], [0, 1, 0]);
  assert.match(lib('true', { PGBACKREST_COMPRESS_LEVEL: '3.5' }).stderr, /PGBACKREST_COMPRESS_LEVEL='3\.5' must be a whole number from -7 to 22/);
});

test('the commands the server runs: archive_command and restore_command name the configuration and the stanza', () => {
  const env = { POSTGRES_SOCKET_DIR: '/run/pg', PGBACKREST_STANZA: 'db1' };
  assert.is(ok(lib('pgq_pgbackrest_archive_command', env)), `${SCRIPTS}/archive-push.sh /run/pg/pgbackrest/pgbackrest.conf db1 %p\n`, 'archive-push.sh beside the library, by its absolute path');
  assert.is(ok(lib('pgq_pgbackrest_restore_command', env)), 'pgbackrest --config=/run/pg/pgbackrest/pgbackrest.conf --stanza=db1 archive-get %f "%p"\n');
});

test('archive_command refuses a scripts directory it could not name unquoted', () => {
  withTempDir((dir) => {
    const odd = path.join(dir, "it's here");
    fs.cpSync(SCRIPTS, odd, { recursive: true });
    const result = spawnSync('bash', ['--norc', '--noprofile', '-c', 'source "$1"; pgq_setup_env; pgq_pgbackrest_setup_env; pgq_pgbackrest_archive_command', '_', path.join(odd, 'pgbackrest-lib.sh')], {
      encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    assert.is(result.status, 1);
    assert.is(result.stdout, '');
    assert.match(result.stderr, /the image's scripts are in .*it's here: archive_command needs a path of letters, digits and \. _ \/ \+ - only/);
  });
});

/** archive-push.sh's functions, run in DIR (the server runs archive_command from PGDATA). */
const push = (dir: string, code: string, env: Record<string, string> = {}) => {
  const result = spawnSync('bash', ['--norc', '--noprofile', '-c', `cd "$1" && source "$2" && ${code}`, '_', dir, path.join(SCRIPTS, 'archive-push.sh')], {
    encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
  });
  return { status: result.status ?? 128, stdout: result.stdout, stderr: result.stderr };
};

/** A postmaster.pid as PostgreSQL 15 writes it, its 8th line the status (padded with spaces). */
const pidFile = (status: string) => `4242\n/data/pgdata\n1795966102\n5432\n/run/postgresql\n*\n  1234  5678\n${status.padEnd(10)}\n`;

test("archive-push.sh: a stopping server's last segment is pushed synchronously, any other as configured", () => {
  withTempDir((dir) => {
    const status = path.join(dir, 'pg_wal/archive_status');
    fs.mkdirSync(status, { recursive: true });
    const ready = (...names: string[]) => {
      for (const f of fs.readdirSync(status)) fs.rmSync(path.join(status, f));
      for (const name of names) fs.writeFileSync(path.join(status, name), '');
    };
    const code = (fn: string) => push(dir, fn).status;

    assert.is(code('pgq_archive_push_stopping postmaster.pid'), 1, 'no postmaster.pid: not stopping');
    for (const [text, stopping] of [['ready', 1], ['starting', 1], ['standby', 1], ['stopping', 0]] as const) {
      fs.writeFileSync(path.join(dir, 'postmaster.pid'), pidFile(text));
      assert.is(code('pgq_archive_push_stopping postmaster.pid'), stopping, text);
    }
    fs.writeFileSync(path.join(dir, 'postmaster.pid'), '4242\n/data/pgdata\n');
    assert.is(code('pgq_archive_push_stopping postmaster.pid'), 1, 'a file without the status line');

    ready();
    assert.is(code('pgq_archive_push_alone pg_wal/archive_status'), 0, 'nothing ready');
    ready('000000010000000000000003.ready', '000000010000000000000002.done');
    assert.is(code('pgq_archive_push_alone pg_wal/archive_status'), 0, 'one segment ready (.done files are archived ones)');
    ready('000000010000000000000003.ready', '000000010000000000000004.ready');
    assert.is(code('pgq_archive_push_alone pg_wal/archive_status'), 1, 'a backlog');

    const mode = () => push(dir, 'pgq_archive_push_mode').stdout;
    fs.writeFileSync(path.join(dir, 'postmaster.pid'), pidFile('stopping'));
    assert.is(mode(), '', 'stopping with a backlog: asynchronous, several at a time');
    ready('000000010000000000000003.ready');
    assert.is(mode(), '--no-archive-async\n', 'stopping, the last segment alone: now');
    fs.writeFileSync(path.join(dir, 'postmaster.pid'), pidFile('ready'));
    assert.is(mode(), '', 'running: as configured');
  });
});

test('archive-push.sh runs pgBackRest with the configuration, the stanza, the mode and the segment; three arguments or none', () => {
  withTempDir((dir) => {
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'pgbackrest'), '#!/bin/sh\nprintf "%s\\n" "$@"; exit 3\n', { mode: 0o755 });
    fs.mkdirSync(path.join(dir, 'pg_wal/archive_status'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'pg_wal/archive_status/000000010000000000000003.ready'), '');
    const env = { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` };
    const main = (...args: string[]) => push(dir, `pgq_archive_push_main ${args.map((a) => `'${a}'`).join(' ')}`, env);

    const running = main('/run/pg/pgbackrest.conf', 'db1', 'pg_wal/000000010000000000000003');
    assert.is(running.status, 3, "pgBackRest's exit status is the command's");
    assert.is(running.stdout, '--config=/run/pg/pgbackrest.conf\n--stanza=db1\narchive-push\npg_wal/000000010000000000000003\n');
    fs.writeFileSync(path.join(dir, 'postmaster.pid'), pidFile('stopping'));
    assert.is(main('/c', 's', 'pg_wal/000000010000000000000003').stdout, '--config=/c\n--stanza=s\n--no-archive-async\narchive-push\npg_wal/000000010000000000000003\n');

    const wrong = main('/c', 's');
    assert.is(wrong.status, 2);
    assert.is(wrong.stderr, 'usage: archive-push.sh CONFIG STANZA SEGMENT_PATH\n');
  });
});

test('the configuration is written private and whole, again only when it changes; the volumes must be there', () => {
  withTempDir((dir) => {
    const env = { PGDATA: `${dir}/data/pgdata`, POSTGRES_SOCKET_DIR: `${dir}/run`, POSTGRES_BACKUP_DIR: `${dir}/backups` };
    fs.mkdirSync(`${dir}/data`);
    const missing = lib('pgq_pgbackrest_write_config; pgq_pgbackrest_prepare_volumes', env);
    assert.is(missing.status, 78, 'a volume that is not mounted: the unit does not restart on it');
    assert.match(missing.stderr, new RegExp(`the pgBackRest repository's parent ${dir}/backups is missing: is the backup volume mounted\\?`));

    fs.mkdirSync(`${dir}/backups`);
    ok(lib('pgq_pgbackrest_write_config; pgq_pgbackrest_prepare_volumes', env));
    const config = `${dir}/run/pgbackrest/pgbackrest.conf`;
    const mode = (p: string) => (fs.statSync(p).mode & 0o777).toString(8);
    assert.equal([mode(config), mode(`${dir}/run/pgbackrest`), mode(`${dir}/run/pgbackrest/lock`), mode(`${dir}/data/pgbackrest-spool`), mode(`${dir}/backups/pgbackrest`)],
      ['600', '700', '700', '700', '750']);
    const inode = fs.statSync(config).ino;
    ok(lib('pgq_pgbackrest_write_config', env));
    assert.is(fs.statSync(config).ino, inode, 'the same text is not written again');
    ok(lib('pgq_pgbackrest_write_config', { ...env, PGBACKREST_COMPRESS_LEVEL: '6' }));
    assert.match(fs.readFileSync(config, 'utf8'), /^compress-level=6$/m);
    assert.equal(fs.readdirSync(`${dir}/run/pgbackrest`).sort(), ['lock', 'pgbackrest.conf'], 'no temporary file is left');

    fs.chmodSync(`${dir}/backups/pgbackrest`, 0o500);
    if (process.getuid?.() !== 0) {
      const unwritable = lib('pgq_pgbackrest_prepare_volumes', env);
      assert.is(unwritable.status, 78);
      assert.match(unwritable.stderr, /the pgBackRest repository .* is not writable by/);
    }
  });
});

test('the entrypoint refuses a data directory a pgBackRest restore did not finish (backup.manifest)', () => {
  withTempDir((dir) => {
    fs.mkdirSync(`${dir}/pgdata`);
    const code = 'pgq_setup_env; pgq_refuse_unfinished_restore; echo passed';
    assert.is(ok(run('entrypoint.sh', code, { PGDATA: `${dir}/pgdata` })), 'passed\n');
    fs.writeFileSync(`${dir}/pgdata/backup.manifest`, '');
    const refused = run('entrypoint.sh', code, { PGDATA: `${dir}/pgdata` });
    assert.is(refused.status, 78);
    assert.match(refused.stderr, /holds backup\.manifest: a pgBackRest restore into it did not finish, and the server must not run on it/);
  });
});

test("restore's targets become pgBackRest's options; a wrong or missing target is refused", () => {
  const args = (...given: string[]) => {
    const quoted = given.map((a) => `'${a}'`).join(' ');
    return run('pgbackrest.sh', `pgq_pgbackrest_restore_args ${quoted}; printf '%s|' "\${pgq_restore_args[@]}"; printf '\\n%s\\n' "$pgq_restore_target"`);
  };
  assert.is(ok(args('--latest')), '|\nto the end of the archived WAL\n');
  assert.is(ok(args('--time', '2026-11-29 10:00:00+00')), '--type=time|--target=2026-11-29 10:00:00+00|--target-action=promote|\nto 2026-11-29 10:00:00+00\n');
  assert.is(ok(args('--backup', '20261129-101755F')), '--set=20261129-101755F|--type=immediate|--target-action=promote|\nto the end of that backup\n');
  assert.is(ok(args('--backup', '20261129-101755F_20261129-111758I', '--latest', '--archive-mode-off')), '--set=20261129-101755F_20261129-111758I|--archive-mode=off|\nto the end of the archived WAL\n');
  assert.is(ok(args('--time', '2026-11-29 10:00:00.5-05:30', '--backup', '20261129-101755F')).split('\n')[0], '--set=20261129-101755F|--type=time|--target=2026-11-29 10:00:00.5-05:30|--target-action=promote|');

  const refused = (pattern: RegExp, ...given: string[]) => {
    const result = args(...given);
    assert.is(result.status, 1, given.join(' '));
    assert.match(result.stderr, pattern);
  };
  refused(/restore needs a target: --latest, --time/);
  refused(/restore needs a target/, '--archive-mode-off');
  refused(/--latest and --time are two different targets/, '--latest', '--time', '2026-11-29 10:00:00+00');
  refused(/is not a time as 'YYYY-MM-DD HH:MM:SS\+00' \(with its UTC offset\)/, '--time', '2026-11-29 10:00:00');
  refused(/is not a time as/, '--time', '2026-13-45 10:00:00+00');
  refused(/is not a time as/, '--time', '2026-11-29 10:00:00+00 --type=immediate');
  refused(/--backup takes a backup label/, '--backup', 'latest');
  refused(/unknown restore argument '--delta'/, '--latest', '--delta');
});

test('the data directory moved aside and put back, on its volume; refused while a server may use it, or over a cluster', () => {
  withTempDir((dir) => {
    const pgdata = `${dir}/pgdata`;
    const env = { PGDATA: pgdata };
    const aside = () => run('pgbackrest.sh', 'pgq_setup_env; pgq_pgdata_move_aside', env);
    const back = (p: string) => run('pgbackrest.sh', `pgq_setup_env; pgq_pgdata_put_back '${p}'`, env);
    assert.match(aside().stderr, /there is no .*pgdata to move aside/);
    fs.mkdirSync(pgdata, { mode: 0o700 });
    fs.writeFileSync(`${pgdata}/PG_VERSION`, '15\n');
    fs.writeFileSync(`${pgdata}/postmaster.pid`, '1\n');
    const running = aside();
    assert.is(running.status, 1);
    assert.match(running.stderr, /postmaster\.pid exists: stop the server first/);
    // After systemctl stop returned, a postmaster.pid is a killed server's: --stopped renames anyway.
    const killed = ok(run('pgbackrest.sh', 'pgq_setup_env; pgq_pgdata_move_aside --stopped', env)).trim();
    assert.ok(fs.existsSync(`${killed}/postmaster.pid`), 'moved whole, the file with it');
    fs.renameSync(killed, pgdata);
    fs.rmSync(`${pgdata}/postmaster.pid`);

    const moved = ok(aside()).trim();
    assert.match(moved, new RegExp(`^${pgdata}\\.before-restore-\\d{8}T\\d{6}Z$`));
    assert.not.ok(fs.existsSync(pgdata));
    assert.is(fs.readFileSync(`${moved}/PG_VERSION`, 'utf8'), '15\n');

    assert.match(back(`${dir}/elsewhere`).stderr, /is not a data directory moved aside/);
    assert.match(back(`${moved}/../../etc`).stderr, /is not a data directory moved aside/);
    fs.mkdirSync(pgdata);
    fs.writeFileSync(`${pgdata}/PG_VERSION`, '15\n');
    assert.match(back(moved).stderr, /is not empty: move it aside first/);
    fs.rmSync(`${pgdata}/PG_VERSION`);
    ok(back(moved)); // over an empty PGDATA
    assert.is(fs.readFileSync(`${pgdata}/PG_VERSION`, 'utf8'), '15\n');
    assert.match(back(moved).stderr, /is not a data directory moved aside/, 'it is PGDATA now');
    assert.equal(fs.readdirSync(dir), ['pgdata']);
  });
});

test('pgbackrest.sh refuses to run as root, whose files the server could not read; --help works for anyone', () => {
  const script = path.join(SCRIPTS, 'pgbackrest.sh');
  const help = spawnSync(script, ['--help'], { encoding: 'utf8' });
  assert.is(help.status, 0);
  assert.match(help.stdout, /^ {2}pgbackrest\.sh restore TARGET \[--repo N\] \[--archive-mode-off\]$/m);
  if (process.getuid?.() !== 0) return;
  const root = spawnSync(script, ['backup'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  assert.is(root.status, 1);
  assert.is(root.stderr, 'pgbackrest.sh: error: run pgbackrest.sh as the user postgres (podman exec without --user root): files written as root would be unreadable to the server\n');
});

test.run();
