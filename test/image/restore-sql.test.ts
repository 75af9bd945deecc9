// restore.sh's rules for rewriting what a backup holds before it runs, as string in, string out:
// the roles file (a role that exists is kept, the application role keeps its current password),
// the database's own statements when the backup is of a database by another name, the names of
// the temporary databases, and the progress lines; and backup-lib.sh's sizes, times and its check
// that a dump was written to its end. Pure bash; one test runs the rewritten roles for real
// against PostgreSQL 15 when it is installed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skipUnless } from '../support/skip.js';
import { sandboxMissing, withSandbox } from './sandbox.js';
import { call, type Shell } from './shell.js';


function ok(result: Shell): string {
  assert.is(result.status, 0, result.stderr);
  return result.stdout;
}

/** restore.sh's rewrite of a roles file holding `content`, for the application role `user`. */
function rolesSql(content: string, user = 'poststack'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgq-restore-sql-'));
  try {
    fs.writeFileSync(path.join(dir, 'roles.sql'), content);
    return ok(call('restore.sh', 'pgq_restore_roles_sql', [path.join(dir, 'roles.sql')], { env: { POSTGRES_USER: user } }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const skipping = (name: string) =>
  `DO $pgq_role$ BEGIN CREATE ROLE ${name}; EXCEPTION WHEN duplicate_object THEN NULL; END $pgq_role$;\n`;

const renamed = (dumped: string, database: string, ...lines: string[]) =>
  ok(call('restore.sh', 'pgq_restore_rename_properties', [dumped, ...lines], { env: { POSTGRES_DB: database } }));

const test = suite('image: restore SQL rules');

test('CREATE ROLE becomes a block that skips a role the server has, for every way pg_dumpall writes a name', () => {
  for (const name of ['reader', '"app reader"', '"my ""odd"" role"', '"a$b"', '"$1"', '"user"']) {
    assert.is(rolesSql(`CREATE ROLE ${name};\n`), skipping(name), name);
  }
});

test("a role name holding the block's own dollar quote still makes one block that creates exactly that role", () => {
  for (const name of ['"x$pgq_role$y"', '"$pgq_role$"', '"$pgq_role$$pgq_role_$"']) {
    const out = rolesSql(`CREATE ROLE ${name};\n`);
    const block = /^DO \$(\w+)\$ BEGIN CREATE ROLE (.+); EXCEPTION WHEN duplicate_object THEN NULL; END \$(\w+)\$;\n$/.exec(out);
    assert.ok(block, out);
    assert.is(block?.[1], block?.[3], out);
    assert.is(block?.[2], name);
    assert.not.ok(name.includes(`$${block?.[1]}$`), `the quote $${block?.[1]}$ cannot end inside ${name}`);
  }
});

test('the application role keeps its current password: its ALTER ROLE loses only the PASSWORD clause', () => {
  const attributes = 'NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS';
  const hash = 'SCRAM-SHA-256$4096:GoHlwKGTzqaq7OeCnHoOww==$j/HYCj0sI6CfHHuJVhZKkUS+n/4n1qnfIOKescv0QIc=:Ko6knG+iln9Th3dt/ZVanDc13lKxI4u9GdpHpOArCH4=';
  assert.is(rolesSql(`ALTER ROLE poststack WITH ${attributes} PASSWORD '${hash}';\n`), `ALTER ROLE poststack WITH ${attributes};\n`);
  // pg_dumpall quotes a name that is a keyword; POSTGRES_USER=user is one.
  assert.is(rolesSql(`ALTER ROLE "user" WITH ${attributes} PASSWORD '${hash}';\n`, 'user'), `ALTER ROLE "user" WITH ${attributes};\n`);
  assert.is(rolesSql(`ALTER ROLE poststack WITH ${attributes};\n`), `ALTER ROLE poststack WITH ${attributes};\n`, 'no password, nothing to drop');
});

test("the password's validity (VALID UNTIL, written after it) stays as the server has it, with the password", () => {
  assert.is(
    rolesSql("ALTER ROLE poststack WITH LOGIN PASSWORD 'md5abc' VALID UNTIL '2030-01-01 00:00:00+00';\n"),
    'ALTER ROLE poststack WITH LOGIN;\n',
  );
});

test("another role's ALTER ROLE keeps its password, even when its name starts like the application role's", () => {
  for (const line of [
    "ALTER ROLE reader WITH LOGIN PASSWORD 'md5abc';",
    "ALTER ROLE poststack2 WITH LOGIN PASSWORD 'md5abc';",
    "ALTER ROLE \"poststack WITH x\" WITH LOGIN PASSWORD 'md5abc';",
    "ALTER ROLE \"poststack\"\"\" WITH LOGIN PASSWORD 'md5abc';",
  ]) {
    assert.is(rolesSql(`${line}\n`), `${line}\n`, line);
  }
  assert.is(
    rolesSql("ALTER ROLE \"user\" WITH LOGIN PASSWORD 'md5abc';\n"),
    "ALTER ROLE \"user\" WITH LOGIN PASSWORD 'md5abc';\n",
    'the role "user" is another role when the application role is poststack',
  );
});

test("a password holding quotes and semicolons is dropped whole", () => {
  assert.is(rolesSql("ALTER ROLE poststack WITH LOGIN PASSWORD 'it''s; DROP ROLE x; --';\n"), 'ALTER ROLE poststack WITH LOGIN;\n');
});

test('the last line counts when the file does not end with a newline', () => {
  assert.is(rolesSql('CREATE ROLE reader;\nCREATE ROLE last;'), skipping('reader') + skipping('last'));
  assert.is(rolesSql("ALTER ROLE poststack WITH LOGIN PASSWORD 'md5abc';"), 'ALTER ROLE poststack WITH LOGIN;\n');
  assert.is(rolesSql('GRANT reader TO poststack GRANTED BY postgres;'), 'GRANT reader TO poststack GRANTED BY postgres;\n');
  assert.is(rolesSql(''), '');
});

test('every other line of the roles file passes unchanged', () => {
  const others = [
    '--',
    '-- PostgreSQL database cluster dump',
    '--',
    '',
    '\\restrict zeUS7FqkGJT83QdaBZt4GATNuyYldrds5RvLHgcLgZtLb7dwrEn5VBkdgpMyG9Z',
    'SET default_transaction_read_only = off;',
    "SET client_encoding = 'UTF8';",
    'GRANT reader TO poststack GRANTED BY postgres;',
    'GRANT "app reader" TO "user" GRANTED BY postgres;',
    "ALTER ROLE poststack SET work_mem TO '8MB';",
    "ALTER ROLE poststack IN DATABASE poststack SET search_path TO 'app';",
    "COMMENT ON ROLE reader IS 'multi",
    "line';",
    '\\unrestrict zeUS7FqkGJT83QdaBZt4GATNuyYldrds5RvLHgcLgZtLb7dwrEn5VBkdgpMyG9Z',
    '-- PostgreSQL database cluster dump complete',
  ];
  assert.is(rolesSql(`${others.join('\n')}\n`), `${others.join('\n')}\n`);
});

test('statements about the dumped database are pointed at POSTGRES_DB when the names differ', () => {
  const lines = [
    'ALTER DATABASE app OWNER TO poststack;',
    "COMMENT ON DATABASE app IS 'the app DATABASE app ';",
    "ALTER DATABASE app SET search_path TO \"$user\", public;",
    'GRANT CONNECT,TEMPORARY ON DATABASE app TO reader;',
    'REVOKE ALL ON DATABASE app FROM PUBLIC;',
    "ALTER ROLE reader IN DATABASE app SET work_mem TO '8MB';",
    "SECURITY LABEL FOR dummy ON DATABASE app IS 'x';",
  ];
  assert.equal(renamed('app', 'shop', ...lines).split('\n').slice(0, -1), [
    'ALTER DATABASE "shop" OWNER TO poststack;',
    "COMMENT ON DATABASE \"shop\" IS 'the app DATABASE app ';",
    "ALTER DATABASE \"shop\" SET search_path TO \"$user\", public;",
    'GRANT CONNECT,TEMPORARY ON DATABASE "shop" TO reader;',
    'REVOKE ALL ON DATABASE "shop" FROM PUBLIC;',
    "ALTER ROLE reader IN DATABASE \"shop\" SET work_mem TO '8MB';",
    "SECURITY LABEL FOR dummy ON DATABASE \"shop\" IS 'x';",
  ]);
  assert.is(renamed('"my db"', 'shop', 'ALTER DATABASE "my db" OWNER TO poststack;'), 'ALTER DATABASE "shop" OWNER TO poststack;\n', 'a quoted dumped name');
});

test('the same name, a name that merely contains the dumped one, and other statements are left alone', () => {
  assert.is(renamed('app', 'app', 'ALTER DATABASE app OWNER TO poststack;'), 'ALTER DATABASE app OWNER TO poststack;\n');
  const untouched = [
    'ALTER DATABASE app2 OWNER TO poststack;',
    'ALTER DATABASE myapp OWNER TO poststack;',
    "SET client_encoding = 'UTF8';",
    "SELECT pg_catalog.set_config('search_path', '', false);",
    '-- Name: DATABASE app; Type: COMMENT; Schema: -; Owner: poststack',
    '',
  ];
  assert.equal(renamed('app', 'shop', ...untouched).split('\n').slice(0, -1), untouched);
});

test('the temporary names stay within 63 bytes, for a 63-character POSTGRES_DB too', () => {
  const names = (database: string) =>
    ok(call('restore.sh', 'eval', ['pgq_restore_names; printf "%s\\n" "$pgq_restore_tmp" "$pgq_restore_saved"'], { env: { POSTGRES_DB: database } }))
      .split('\n').slice(0, 2);
  const [tmp, saved] = names('shop');
  assert.is(tmp, 'shop_restoring');
  assert.match(saved ?? '', /^shop_pre_restore_\d{8}_\d{6}$/);
  const long = `d${'x'.repeat(61)}z`;
  assert.is(long.length, 63);
  for (const name of names(long)) {
    assert.ok(Buffer.byteLength(name) <= 63, `${name} is ${Buffer.byteLength(name)} bytes`);
    assert.is.not(name, long);
  }
  const [longTmp, longSaved] = names(long);
  assert.is.not(longTmp, longSaved);
});

test('progress counts each listed entry once, skips the rest, and passes errors and warnings through', () => {
  const output = [
    'pg_restore: connecting to database for restore',
    'pg_restore: processing item 3340 ENCODING ENCODING',
    'pg_restore: processing item 215 TABLE public items',
    'pg_restore: launching item 3330 TABLE DATA public items',
    'pg_restore: finished item 3330 TABLE DATA public items',
    'pg_restore: processing missed item 3331 INDEX public items_pkey',
    'pg_restore: finished item 215 TABLE public items',
    'pg_restore: processing item 9999 ACL not listed',
    'pg_restore: error: could not execute query: ERROR:  boom',
    'pg_restore: detail: Command was: CREATE INDEX x;',
    'pg_restore: hint: try again',
    'pg_restore: warning: errors ignored on restore: 1',
    'pg_restore: creating TABLE "public.items"',
  ];
  const result = call('restore.sh', 'pgq_restore_progress', ['4', '215\n3330\n3331\n3340'], { input: `${output.join('\n')}\n` });
  assert.is(result.status, 0, result.stderr);
  assert.is(result.stdout, '');
  assert.equal(result.stderr.split('\n').slice(0, -1), [
    'restore: [1/4] ENCODING ENCODING',
    'restore: [2/4] TABLE public items',
    'restore: [3/4] TABLE DATA public items',
    'restore: [4/4] INDEX public items_pkey',
    'pg_restore: error: could not execute query: ERROR:  boom',
    'pg_restore: detail: Command was: CREATE INDEX x;',
    'pg_restore: hint: try again',
    'pg_restore: warning: errors ignored on restore: 1',
  ]);
});

test('progress over an archive with no entries (a database with no objects) succeeds', () => {
  // pgq_restore_load passes the ids of `pg_restore --list`, which is empty for such a database.
  const result = call('restore.sh', 'pgq_restore_progress', ['0', ''], { input: 'pg_restore: connecting to database for restore\n' });
  assert.is(result.status, 0, result.stderr);
  assert.is(result.stderr, '');
});

test('sizes read as people read them: bytes below 1 KiB, then one decimal in KiB to TiB', () => {
  const cases: Array<[number, string]> = [
    [0, '0 B'],
    [1, '1 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [1048575, '1023.9 KiB'],
    [1048576, '1.0 MiB'],
    [14304847, '13.6 MiB'],
    [5 * 1024 ** 3, '5.0 GiB'],
    [2 * 1024 ** 4, '2.0 TiB'],
    [3 * 1024 ** 5, '3072.0 TiB'],
  ];
  for (const [bytes, expected] of cases) {
    assert.is(ok(call('backup-lib.sh', 'pgq_human_bytes', [String(bytes)])), `${expected}\n`, String(bytes));
  }
});

test('elapsed time is seconds since an $EPOCHREALTIME, with two decimals', () => {
  const start = (Date.now() / 1000 - 2.5).toFixed(6);
  const elapsed = ok(call('backup-lib.sh', 'pgq_elapsed', [start]));
  assert.match(elapsed, /^\d+\.\d\d\n$/);
  const seconds = Number(elapsed);
  assert.ok(seconds >= 2.5 && seconds < 4, elapsed);
  const comma = ok(call('backup-lib.sh', 'pgq_elapsed', [start.replace('.', ',')]));
  assert.match(comma, /^[234]\.\d\d\n$/, 'a locale that writes a decimal comma');
  // The microseconds start with zeros: read as decimal, never as octal.
  const zeros = ok(call('backup-lib.sh', 'eval', ['pgq_elapsed "${EPOCHREALTIME%.*}.000009"']));
  assert.match(zeros, /^\d\.\d\d\n$/);
});

test('a dump counts as complete only when its closing comment is a whole line among its last five', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgq-dump-'));
  try {
    const trailer = '-- PostgreSQL database cluster dump complete';
    const complete = (content: string) => {
      fs.writeFileSync(path.join(dir, 'roles.sql'), content);
      return call('backup-lib.sh', 'pgq_dump_is_complete', [path.join(dir, 'roles.sql'), trailer]).status === 0;
    };
    const body = 'CREATE ROLE reader;\n'.repeat(20);
    assert.ok(complete(`${body}--\n${trailer}\n--\n\n`), 'as pg_dumpall ends it');
    assert.ok(complete(`${body}${trailer}`), 'without a final newline');
    assert.not.ok(complete(body), 'cut off before the end');
    assert.not.ok(complete(''), 'empty');
    assert.not.ok(complete(`${body}${trailer} (not)\n`), 'not the whole line');
    assert.not.ok(complete(`${trailer}\n${body}`), 'only near the end');
    assert.not.ok(complete(`${body}${trailer}\n\n\n\n\n\n`), 'more than five lines before the end');
    assert.not.ok(call('backup-lib.sh', 'pgq_dump_is_complete', [path.join(dir, 'missing.sql'), trailer]).status === 0, 'a missing file');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

const real = skipUnless(suite('image: restore SQL against PostgreSQL'), sandboxMissing(), 'the rewritten roles against PostgreSQL 15');

real('restoring the roles twice succeeds, brings back dropped roles and their passwords, and keeps the application role\'s current password', async () => {
  await withSandbox(async (box) => {
    const server = await box.startReady();
    const odd = ['"app reader"', '"my ""odd"" role"', '"a$b"', '"x$pgq_role$y"'];
    await box.superuser(
      [
        "CREATE ROLE reader LOGIN PASSWORD 'reader-at-backup'",
        ...odd.map((name) => `CREATE ROLE ${name}`),
        'GRANT reader TO poststack',
        "ALTER ROLE reader SET work_mem = '8MB'",
      ].join('; '),
      'postgres',
    );
    const dumped = await box.runAsPostgres('pg_dumpall', ['--globals-only', '--no-password', `--host=${box.paths.socket}`, `--port=${box.port}`, '--username=postgres']);
    assert.is(dumped.exitCode, 0, String(dumped.all));
    const backup = path.join(box.dir, 'backup');
    fs.mkdirSync(backup, { mode: 0o755 });
    fs.writeFileSync(path.join(backup, 'roles.sql'), String(dumped.stdout), { mode: 0o644 });
    const readerAtBackup = await box.superuser("SELECT rolpassword FROM pg_authid WHERE rolname = 'reader'", 'postgres');

    // After the backup: roles dropped, passwords changed, among them the application role's.
    await box.superuser(`${odd.map((name) => `DROP ROLE ${name}`).join('; ')}; ALTER ROLE reader PASSWORD 'reader-later'`, 'postgres');
    await box.superuser("ALTER ROLE poststack PASSWORD 'rotated after the backup'", 'postgres');
    const appNow = await box.superuser("SELECT rolpassword FROM pg_authid WHERE rolname = 'poststack'", 'postgres');

    for (const run of [1, 2]) {
      // As restore.sh restores roles: its own functions, its settings, the superuser over the socket.
      const restored = await box.runAsPostgres('bash', [
        '--norc', '-c', 'source "$1"; pgq_backup_setup_env; pgq_restore_source=$2; pgq_restore_roles',
        '_', path.join(box.paths.scripts, 'restore.sh'), backup,
      ]);
      assert.is(restored.exitCode, 0, `run ${run}: ${String(restored.all)}`);
    }
    const roles = await box.superuser(`SELECT string_agg(quote_ident(rolname), ',' ORDER BY rolname) FROM pg_roles WHERE rolname !~ '^pg_'`, 'postgres');
    for (const name of [...odd, 'reader', 'poststack', 'postgres']) assert.ok(roles.split(',').includes(name), `${name} in ${roles}`);
    assert.is(await box.superuser("SELECT rolpassword FROM pg_authid WHERE rolname = 'reader'", 'postgres'), readerAtBackup, "another role's password is the backup's");
    assert.is(await box.superuser("SELECT rolpassword FROM pg_authid WHERE rolname = 'poststack'", 'postgres'), appNow, "the application role's is the current one");
    const [login] = await box.query('SELECT current_user AS who', [], { password: 'rotated after the backup' });
    assert.is(login.who, 'poststack');
    assert.is(await box.superuser("SELECT pg_has_role('poststack', 'reader', 'MEMBER')", 'postgres'), 't');
    assert.is(await box.stop(server), 0);
  });
});

real.run();
