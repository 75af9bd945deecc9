// A backup restores to exactly what was backed up: every table's rows, the roles and their
// passwords, a custom schema with extension types, sequences, large objects and database settings;
// on the same server (the current database is swapped, the old one kept) and on a new one.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skipUnless } from '../support/skip.js';
import { sandboxMissing, withSandbox, type Sandbox } from '../image/sandbox.js';
import { backupDir, backupNow, databases, fingerprint, makeBackupDir, restoreNow, roles } from './support.js';

const test = skipUnless(suite('backup: round trip'), sandboxMissing(), 'backup and restore against PostgreSQL 15');

const SCHEMA = `
  CREATE EXTENSION hstore;
  CREATE EXTENSION citext;
  CREATE SCHEMA app;
  CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
  CREATE DOMAIN app.email AS citext CHECK (VALUE LIKE '%@%');
  CREATE TABLE app.people (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email app.email UNIQUE,
    mood app.mood,
    tags text[],
    attrs hstore,
    doc jsonb,
    photo bytea,
    token uuid DEFAULT uuid_generate_v4(),
    note text,
    shout text GENERATED ALWAYS AS (upper(note)) STORED
  );
  INSERT INTO app.people (email, mood, tags, attrs, doc, photo, note)
  SELECT 'Person' || n || '@Example.org',
         (ARRAY['sad', 'ok', 'happy'])[1 + n % 3]::app.mood,
         CASE WHEN n % 7 = 0 THEN NULL ELSE ARRAY['t' || n, E'tab\\there', 'ü€'] END,
         hstore('k', n::text),
         jsonb_build_object('n', n, 'nested', jsonb_build_array(n, 'x', NULL)),
         digest(n::text, 'sha256'),
         E'line 1\\nline 2 \\\\ back\\\\slash ' || repeat('é', n % 50)
    FROM generate_series(1, 3000) n;
  CREATE TABLE app.events (person bigint REFERENCES app.people, at timestamptz NOT NULL, payload jsonb) PARTITION BY RANGE (at);
  CREATE TABLE app.events_old PARTITION OF app.events FOR VALUES FROM (MINVALUE) TO ('2024-01-01');
  CREATE TABLE app.events_new PARTITION OF app.events FOR VALUES FROM ('2024-01-01') TO (MAXVALUE);
  INSERT INTO app.events SELECT 1 + n % 3000, timestamptz '2023-06-01' + n * interval '1 hour', jsonb_build_object('n', n) FROM generate_series(1, 20000) n;
  CREATE SEQUENCE app.ticket START 1000;
  SELECT nextval('app.ticket') FROM generate_series(1, 42);
  CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.note := coalesce(NEW.note, '') || '!'; RETURN NEW; END $$;
  CREATE TRIGGER touch BEFORE UPDATE ON app.people FOR EACH ROW EXECUTE FUNCTION app.touch();
  CREATE VIEW app.happy AS SELECT id, email FROM app.people WHERE mood = 'happy';
  CREATE MATERIALIZED VIEW app.moods AS SELECT mood, count(*) FROM app.people GROUP BY mood;
  SELECT lo_from_bytea(0, convert_to(repeat('large object ', 1000), 'UTF8'));
`;

const ROLES = `
  CREATE ROLE readers NOLOGIN;
  CREATE ROLE reporting LOGIN PASSWORD 'r3port''s "pw"' IN ROLE readers;
  ALTER ROLE reporting SET statement_timeout = '5s';
  GRANT USAGE ON SCHEMA app TO readers;
  GRANT SELECT ON ALL TABLES IN SCHEMA app TO readers;
  ALTER DATABASE poststack SET search_path = app, public;
  COMMENT ON DATABASE poststack IS 'the application''s data';
`;

/** What a restore must bring back beyond the tables' rows. */
async function extras(box: Sandbox): Promise<Record<string, string>> {
  return {
    ticket: await box.superuser('SELECT last_value FROM app.ticket'),
    largeObjects: await box.superuser('SELECT string_agg(md5(lo_get(oid)), \',\' ORDER BY oid) FROM pg_largeobject_metadata'),
    moods: await box.superuser('SELECT string_agg(mood || \'=\' || count, \',\' ORDER BY mood) FROM app.moods'),
    searchPath: (await box.query('SHOW search_path'))[0].search_path,
    comment: await box.superuser("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = 'poststack'", 'postgres'),
    readerGrant: await box.superuser("SELECT has_table_privilege('reporting', 'app.people', 'SELECT')"),
  };
}

async function populate(box: Sandbox): Promise<void> {
  await box.query(SCHEMA);
  await box.superuser(ROLES);
}

test('restoring the latest backup brings back tables, roles and settings; the replaced database is kept', async () => {
  await withSandbox(async (box) => {
    makeBackupDir(box);
    await box.startReady();
    await populate(box);
    const before = { tables: await fingerprint(box), roles: await roles(box), extras: await extras(box) };
    assert.ok(Object.keys(before.tables).length >= 5, Object.keys(before.tables).join());
    const name = await backupNow(box);

    // What an operator restores after: a dropped table, lost rows, a dropped role, new junk.
    await box.query('DROP TABLE app.people CASCADE; DELETE FROM app.events; CREATE TABLE junk AS SELECT 1 AS x; SELECT setval(\'app.ticket\', 5000)');
    await box.superuser('DROP OWNED BY reporting; DROP ROLE reporting');
    const damaged = await fingerprint(box);
    const client = await box.connect();
    client.on('error', () => undefined);

    const output = await restoreNow(box, ['--latest']);
    assert.match(output, new RegExp(`restore: restored ${name} into poststack in [\\d.]+ s`));
    assert.match(output, /restore: \[\d+\/\d+\] TABLE DATA people$/m, 'progress names the entries as they finish');

    assert.equal(await fingerprint(box), before.tables);
    assert.is(await roles(box), before.roles);
    assert.equal(await extras(box), before.extras);
    const ended = await client.query('SELECT 1').then(() => 'still connected', (error: Error) => error.message);
    assert.match(ended, /terminat|not queryable/, 'connections to the replaced database were ended');
    const reporting = await box.connect({ user: 'reporting', password: 'r3port\'s "pw"' });
    assert.is((await reporting.query('SELECT count(*)::int AS n FROM app.people')).rows[0].n, 3000);
    await reporting.end();

    const kept = (await databases(box)).filter((db) => db.startsWith('poststack_pre_restore_'));
    assert.is(kept.length, 1, 'the replaced database is kept');
    assert.match(output, new RegExp(`kept as ${kept[0]}`));
    assert.is(await box.superuser(`SELECT datallowconn FROM pg_database WHERE datname = '${kept[0]}'`, 'postgres'), 'f');
    await box.superuser(`ALTER DATABASE ${kept[0]} ALLOW_CONNECTIONS true`, 'postgres');
    assert.equal(await fingerprint(box, kept[0]), damaged, 'the kept database is the one that was replaced');
    assert.not.ok((await databases(box)).includes('poststack_restoring'), 'no half-made database is left');
  });
});

test('a backup restores onto a new server: roles come back, the application role keeps the new secret', async () => {
  await withSandbox(async (source) => {
    makeBackupDir(source);
    await source.startReady();
    await populate(source);
    const before = { tables: await fingerprint(source), extras: await extras(source) };
    const name = await backupNow(source);

    await withSandbox(async (target) => {
      makeBackupDir(target);
      fs.renameSync(path.join(backupDir(source), name), path.join(backupDir(target), name));
      await target.startReady();
      const output = await restoreNow(target, [name]);
      assert.match(output, /restored .* into poststack/);
      assert.equal(await fingerprint(target), before.tables);
      assert.equal(await extras(target), before.extras);
      const reporting = await target.connect({ user: 'reporting', password: 'r3port\'s "pw"' });
      await reporting.end();
      const app = await target.connect();
      assert.is((await app.query('SELECT count(*)::int AS n FROM app.people')).rows[0].n, 3000, "the application role logs in with the new server's secret");
      await app.end();
    }, 'a different secret on the new server');
  });
});

test.run();
