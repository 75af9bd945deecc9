// Runs inside the machine, with the machine's Node and the project's node_modules: connects with
// node-postgres to a connection string (as an application given DATABASE_URL would) and runs
// statements in order. Prints one JSON line: { ok: true, results: [rows...], ssl } or
// { ok: false, code, message }.
//
//   node client.mjs URL SQL...        URL may carry sslmode=verify-full&sslrootcert=FILE
import pg from 'pg';

const [url, ...statements] = process.argv.slice(2);
// No statement_timeout: node-postgres sends it at login, which PgBouncer refuses (see docs/pooling.md);
// the caller bounds the whole run instead.
const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
try {
  await client.connect();
  const results = [];
  for (const sql of statements) results.push((await client.query(sql)).rows);
  const { rows } = await client.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
  console.log(JSON.stringify({ ok: true, results, ssl: rows[0]?.ssl ?? false }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, code: error.code ?? null, message: error.message }));
  process.exitCode = 1;
} finally {
  await client.end().catch(() => {});
}
