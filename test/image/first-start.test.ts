// The first start: initdb, the role and database, the extensions, the init files once and in name
// order, and what happens when an init file fails or the password or a setting is wrong.
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skipUnless } from '../support/skip.js';
import { sandboxMissing, withSandbox } from './sandbox.js';

const test = skipUnless(suite('image: first start'), sandboxMissing(), 'image scripts against PostgreSQL 15');

test('initializes once: role, database, extensions and init files; a restart keeps the data and runs no init file again', async () => {
  await withSandbox(async (box) => {
    // Each file needs the one before it, so a wrong order fails the start.
    box.addInitFile('010-schema.sql', 'CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);\n');
    box.addInitFile('020-seed.sql.gz', gzipSync("INSERT INTO items (name) VALUES ('seed');\n"));
    box.addInitFile('030-hook.sh', `#!/bin/sh\nset -e\npsql --no-psqlrc -v ON_ERROR_STOP=1 -c "INSERT INTO items (name) VALUES ('hook')"\n`);
    box.addInitFile('README.txt', 'not run\n');

    const first = await box.startReady();
    assert.equal(
      (await box.query('SELECT name FROM items ORDER BY id')).map((r) => r.name),
      ['seed', 'hook'],
    );
    const [table] = await box.query("SELECT tableowner FROM pg_tables WHERE tablename = 'items'");
    assert.equal(table.tableowner, 'poststack', 'init files make objects the application owns');
    const [db] = await box.query(
      "SELECT pg_get_userbyid(datdba) AS owner, pg_encoding_to_char(encoding) AS encoding FROM pg_database WHERE datname = current_database()",
    );
    assert.equal(db, { owner: 'poststack', encoding: 'UTF8' });
    const extensions = (await box.query('SELECT extname FROM pg_extension')).map((r) => r.extname);
    for (const name of ['uuid-ossp', 'pgcrypto', 'pg_stat_statements']) assert.ok(extensions.includes(name), `${name} installed`);
    const [uuid] = await box.query("SELECT uuid_generate_v4() IS NOT NULL AS ok, digest('x', 'sha256') IS NOT NULL AS crypto");
    assert.equal(uuid, { ok: true, crypto: true });
    const [stats] = await box.query('SELECT count(*) >= 0 AS works FROM pg_stat_statements');
    assert.ok(stats.works, 'pg_stat_statements is preloaded (the view errors otherwise)');
    const [checksums] = await box.query('SHOW data_checksums');
    assert.is(checksums.data_checksums, 'on');
    assert.is(await box.superuser('SELECT rolsuper FROM pg_roles WHERE rolname = current_user'), 't');
    assert.is(await box.superuser("SELECT rolsuper FROM pg_roles WHERE rolname = 'poststack'"), 'f', 'the application role is no superuser');
    assert.match(first.output(), /running .*030-hook\.sh/);
    assert.match(first.output(), /ignoring .*README\.txt/);
    assert.not.ok(fs.existsSync(path.join(box.paths.pgdata, '.first-start-incomplete')));

    await box.query("INSERT INTO items (name) VALUES ('app')");
    assert.is(await box.stop(first), 0);

    const second = await box.startReady();
    assert.equal(
      (await box.query('SELECT name FROM items ORDER BY id')).map((r) => r.name),
      ['seed', 'hook', 'app'],
    );
    assert.not.match(second.output(), /running|initializing/);
    assert.is(await box.stop(second), 0);
  });
});

test("the pool's secret lookup: the role reads its own SCRAM secret and no one else's; a cluster made without it gets it at its next start, once", async () => {
  await withSandbox(async (box) => {
    const first = await box.startReady();
    const stored = await box.superuser("SELECT rolpassword FROM pg_authid WHERE rolname = 'poststack'");
    assert.match(stored, /^SCRAM-SHA-256\$4096:/);
    const [own] = await box.query('SELECT pgquadlet.scram_secret() AS secret', [], { database: 'postgres' });
    assert.is(own.secret, stored, "the role gets the server's secret");
    await box.superuser("CREATE ROLE other LOGIN PASSWORD 'other-password'", 'postgres');
    const other = await box.connect({ user: 'other', password: 'other-password', database: 'postgres' });
    try {
      const refused = await other.query('SELECT pgquadlet.scram_secret()').then(() => 'ok', (e) => e.code);
      assert.is(refused, '42501', 'another role may not call it');
    } finally {
      await other.end();
    }
    const setupFile = path.join(box.paths.pgdata, 'pg-quadlet-setup');
    assert.is(fs.readFileSync(setupFile, 'utf8'), '2\n');
    assert.is(await box.stop(first), 0);

    // As a cluster made by an image from before the lookup: no function, no record of it.
    const older = await box.startReady();
    await box.superuser('DROP SCHEMA pgquadlet CASCADE', 'postgres');
    fs.rmSync(setupFile);
    assert.is(await box.stop(older), 0);
    const upgraded = await box.startReady();
    assert.match(upgraded.output(), /adding what this image sets up that .* does not have yet \(steps 1 to 2\)/);
    const [again] = await box.query('SELECT pgquadlet.scram_secret() AS secret', [], { database: 'postgres' });
    assert.is(again.secret, stored);
    assert.is(fs.readFileSync(setupFile, 'utf8'), '2\n');
    assert.is(await box.stop(upgraded), 0);
    const next = await box.startReady();
    assert.not.match(next.output(), /adding what this image sets up/, 'once');
    assert.is(await box.stop(next), 0);

    fs.writeFileSync(setupFile, 'x\n');
    const refused = box.start();
    assert.is.not(await refused.exited, 0);
    assert.match(refused.output(), /pg-quadlet-setup holds 'x', not the number of setup steps done: remove it/);
  });
});

test('a failing init file stops the first start with its name and error; the next start initializes from scratch', async () => {
  await withSandbox(async (box) => {
    box.addInitFile('010-schema.sql', "CREATE TABLE items (name text); INSERT INTO items VALUES ('schema');\n");
    box.addInitFile('020-data.sql', 'INSERT INTO missing_table VALUES (1);\n');

    const failed = box.start();
    assert.is.not(await failed.exited, 0);
    assert.match(failed.output(), /020-data\.sql/);
    assert.match(failed.output(), /relation "missing_table" does not exist/);
    assert.match(failed.output(), /init file .*020-data\.sql failed/);
    assert.not.ok(fs.existsSync(path.join(box.paths.pgdata, 'postmaster.pid')), 'the temporary server was stopped');
    assert.ok(fs.existsSync(path.join(box.paths.pgdata, '.first-start-incomplete')), 'the half-made directory is marked');

    box.addInitFile('020-data.sql', "INSERT INTO items VALUES ('data');\n");
    const retried = await box.startReady();
    assert.match(retried.output(), /did not finish initializing/);
    assert.equal(
      (await box.query('SELECT name FROM items ORDER BY name')).map((r) => r.name),
      ['data', 'schema'],
      'every init file ran exactly once, on a fresh cluster',
    );
    assert.is(await box.stop(retried), 0);
  });
});

test('a missing password is a clear error and leaves no cluster behind', async () => {
  await withSandbox(async (box) => {
    const server = box.start({ env: { POSTGRES_PASSWORD_FILE: undefined } });
    assert.is(await server.exited, 1);
    assert.match(server.output(), /error: no password for poststack: set POSTGRES_PASSWORD_FILE/);
    assert.not.ok(fs.existsSync(path.join(box.paths.pgdata, 'PG_VERSION')));

    const both = box.start({ env: { POSTGRES_PASSWORD: 'also' } });
    assert.is(await both.exited, 1);
    assert.match(both.output(), /both POSTGRES_PASSWORD_FILE and POSTGRES_PASSWORD are set/);
  });
});

test('unsafe names and malformed settings are all refused before anything is written', async () => {
  await withSandbox(async (box) => {
    const server = box.start({
      env: {
        POSTGRES_USER: 'app"; DROP ROLE x; --',
        POSTGRES_DB: 'Mixed',
        POSTGRES_SHARED_BUFFERS: "1GB'\nssl = off",
        POSTGRES_MAX_CONNECTIONS: '10 -c fsync=off',
      },
    });
    assert.is(await server.exited, 1);
    const out = server.output();
    for (const name of ['POSTGRES_USER', 'POSTGRES_DB', 'POSTGRES_SHARED_BUFFERS', 'POSTGRES_MAX_CONNECTIONS']) {
      assert.match(out, new RegExp(`error: ${name}=`), `${name} is reported`);
    }
    assert.not.ok(fs.existsSync(box.paths.pgdata));
  });
});

test.run();
