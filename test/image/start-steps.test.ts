// The entrypoint's start steps one function at a time, with stand-ins for initdb, sync, postgres
// and pg_isready on PATH that log how they were called: what makes a first start durable (the
// order of initdb, the marker and the syncs), the setup server's start and stop, and the files a
// start rewrites only when they change. Pure bash: no PostgreSQL needed (first-start.test.ts runs
// the same steps against the real one).
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { call, withTempDir } from './shell.js';

const test = suite('image: entrypoint start steps');

/** A bin directory of stand-ins, each logging its name and arguments to DIR/log. */
function fakes(dir: string, scripts: Record<string, string>): { PATH: string; PGDATA: string; POSTGRES_SOCKET_DIR: string; POSTGRES_PORT: string } {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  for (const [name, body] of Object.entries(scripts)) {
    fs.writeFileSync(path.join(bin, name), `#!/bin/bash\necho "${name} $*" >>'${dir}/log'\n${body}\n`, { mode: 0o755 });
  }
  return { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, PGDATA: path.join(dir, 'pgdata'), POSTGRES_SOCKET_DIR: path.join(dir, 'run'), POSTGRES_PORT: '5432' };
}

const entrypoint = (code: string, env: Record<string, string>) => call('entrypoint.sh', 'eval', [code], { env });
const log = (dir: string) => fs.readFileSync(path.join(dir, 'log'), 'utf8').split('\n').filter(Boolean);

test('a new cluster: initdb without its own sync, then the marker, made durable before anything else', () => {
  withTempDir((dir) => {
    const marker = path.join(dir, 'pgdata/.first-start-incomplete');
    const env = fakes(dir, {
      initdb: `mkdir -p "$PGDATA" && echo 15 >"$PGDATA/PG_VERSION"`,
      sync: `[[ -e '${marker}' ]] && echo "  the marker exists" >>'${dir}/log'; exit 0`,
    });
    const result = entrypoint('pgq_init_database_dir', env);
    assert.is(result.status, 0, result.stderr);
    assert.equal(log(dir), [
      `initdb --pgdata=${env.PGDATA} --username=postgres --encoding=UTF8 --locale=C.UTF-8 --data-checksums --auth-local=peer --auth-host=scram-sha-256 --no-sync`,
      `sync -- ${marker} ${env.PGDATA}`,
      '  the marker exists',
    ]);
    assert.match(result.stderr, /initializing a new cluster in /);
  });
});

test("the cluster is marked complete only after one syncfs of its volume; a failed sync leaves it marked", () => {
  withTempDir((dir) => {
    const pgdata = path.join(dir, 'pgdata');
    const marker = path.join(pgdata, '.first-start-incomplete');
    const env = {
      ...fakes(dir, {
        sync: `[[ -e '${marker}' ]] && echo "  marked" >>'${dir}/log'
[[ -s '${pgdata}/pg-quadlet-identity' && -s '${pgdata}/pg-quadlet-setup' ]] && echo "  recorded" >>'${dir}/log'
exit \${SYNC_STATUS:-0}`,
      }),
      POSTGRES_DB: 'app', POSTGRES_USER: 'owner',
    };
    fs.mkdirSync(pgdata);
    fs.writeFileSync(marker, '');
    const done = entrypoint('pgq_mark_initialized', env);
    assert.is(done.status, 0, done.stderr);
    assert.equal(log(dir), [
      `sync --file-system -- ${pgdata}`, '  marked', '  recorded',
      `sync -- ${pgdata}`, '  recorded',
    ], 'syncfs while still marked, with the records written; then the marker goes and its removal is synced');
    assert.not.ok(fs.existsSync(marker));
    assert.is(fs.readFileSync(path.join(pgdata, 'pg-quadlet-identity'), 'utf8'), 'database=app\nuser=owner\n');

    fs.writeFileSync(marker, '');
    fs.rmSync(path.join(dir, 'log'));
    const failed = entrypoint('pgq_mark_initialized', { ...env, SYNC_STATUS: '1' });
    assert.is(failed.status, 1);
    assert.ok(fs.existsSync(marker), 'a write-back that failed: the next start initializes again');
    assert.equal(log(dir), [`sync --file-system -- ${pgdata}`, '  marked', '  recorded']);
  });
});

/** A stand-in server: ready (for the stand-in pg_isready) after READY_AFTER seconds, or it exits
 * with START_STATUS first; on SIGINT it exits with STOP_STATUS. Perl, not bash: as PostgreSQL
 * does, it sets its own SIGINT handler, which a shell cannot when it starts with SIGINT ignored
 * (as a background job of a script does). */
const SERVER = `exec perl -e '
my $ready = "$ENV{POSTGRES_SOCKET_DIR}/ready";
$SIG{INT} = sub { unlink $ready; exit($ENV{STOP_STATUS} // 0) };
exit $ENV{START_STATUS} if length($ENV{START_STATUS} // "");
select(undef, undef, undef, $ENV{READY_AFTER} // 0.2);
open(my $f, ">", $ready) or die; close $f;
select(undef, undef, undef, 0.05) while 1;
'`;

test('the setup server: started with its options on the socket only, waited for until it takes connections, stopped and waited for', () => {
  withTempDir((dir) => {
    const env = fakes(dir, { postgres: SERVER, pg_isready: '[[ -e "$POSTGRES_SOCKET_DIR/ready" ]]' });
    fs.mkdirSync(env.POSTGRES_SOCKET_DIR);
    const started = Date.now();
    const result = entrypoint(
      'pgq_temp_server_launch -c archive_mode=off; pgq_temp_server_wait; echo "waited $(trap -p EXIT)"; pgq_temp_server_stop; echo "stopped $(trap -p EXIT)"',
      { ...env, READY_AFTER: '0.3' },
    );
    assert.is(result.status, 0, result.stderr);
    assert.is(result.stdout, "waited trap -- 'pgq_temp_server_stop' EXIT\nstopped \n", 'stopped on any exit until stopped by hand');
    // The server logs its start when it runs, maybe after the first probe.
    const calls = log(dir);
    const probes = calls.filter((c) => c === `pg_isready --quiet --host=${env.POSTGRES_SOCKET_DIR} --port=5432`);
    assert.equal(calls.filter((c) => !probes.includes(c)), [`postgres -D ${env.PGDATA} -c listen_addresses= -c archive_mode=off`]);
    assert.ok(probes.length >= 4, `probed every few hundredths of a second (${probes.length} probes in 0.3 s)`);
    assert.ok(Date.now() - started < 3000);
    assert.not.ok(fs.existsSync(path.join(env.POSTGRES_SOCKET_DIR, 'ready')), 'the server got SIGINT (a fast shutdown)');
  });
});

test('the setup server fails: one that exits before it takes connections, and one that does not stop cleanly', () => {
  withTempDir((dir) => {
    const env = fakes(dir, { postgres: SERVER, pg_isready: '[[ -e "$POSTGRES_SOCKET_DIR/ready" ]]' });
    fs.mkdirSync(env.POSTGRES_SOCKET_DIR);
    const early = entrypoint('pgq_temp_server_start; echo started', { ...env, START_STATUS: '1' });
    assert.is(early.status, 1);
    assert.is(early.stdout, '');
    assert.match(early.stderr, new RegExp(`error: the server on ${env.PGDATA} exited before it took connections \\(its log is above\\)`));

    const unclean = entrypoint('pgq_temp_server_start; pgq_temp_server_stop; echo stopped', { ...env, STOP_STATUS: '3' });
    assert.is(unclean.status, 1);
    assert.is(unclean.stdout, '');
    assert.match(unclean.stderr, /error: the server on .* did not stop cleanly \(exit status 3, its log is above\)/);

    const onExit = entrypoint('pgq_temp_server_start; exit 5', env);
    assert.is(onExit.status, 5, "a failing step's status stays the script's");
    assert.not.ok(fs.existsSync(path.join(env.POSTGRES_SOCKET_DIR, 'ready')), 'the server was stopped on the way out');
  });
});

test('the configuration is rendered again only when it changed; the socket directory is made only when missing', () => {
  withTempDir((dir) => {
    const env = fakes(dir, { mkdir: 'exec /bin/mkdir "$@"' });
    fs.writeFileSync(path.join(dir, 'template'), 'port = @PORT@\n');
    const dest = path.join(dir, 'rendered');
    const render = (port: string) => entrypoint(`pgq_render '${dir}/template' '${dest}' PORT=${port}`, env);
    assert.is(render('5432').status, 0);
    const first = fs.statSync(dest);
    assert.is(fs.readFileSync(dest, 'utf8'), 'port = 5432\n');
    assert.is(first.mode & 0o777, 0o600);
    assert.is(render('5432').status, 0);
    assert.is(fs.statSync(dest).ino, first.ino, 'the same text: the file is left as it was');
    assert.is(render('5433').status, 0);
    assert.is(fs.readFileSync(dest, 'utf8'), 'port = 5433\n');
    assert.is.not(fs.statSync(dest).ino, first.ino, 'new text: a new file renamed into place');

    const socket = path.join(dir, 'run/postgresql');
    const make = () => entrypoint('pgq_prepare_socket_dir', { ...env, POSTGRES_SOCKET_DIR: socket });
    assert.is(make().status, 0);
    assert.ok(fs.statSync(socket).isDirectory());
    assert.equal(log(dir), [`mkdir -p -- ${socket}`]);
    assert.is(make().status, 0);
    assert.equal(log(dir), [`mkdir -p -- ${socket}`], 'there already: no mkdir');
  });
});

test.run();
