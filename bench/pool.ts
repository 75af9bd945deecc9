// PgBouncer against PostgreSQL alone, side by side in one run, on loopback: the image's own
// scripts start both (the test sandbox, as the OS user postgres), pgbench drives them with SCRAM
// logins. Run by bench/pool.sh, which raises the descriptor limit first.
//
//   connect-per-transaction: pgbench -C -S -c 50, direct and pooled (goal: pooled >= 5x direct)
//   500 clients:             pgbench -S -c 500, direct (max_connections 100 refuses) and pooled
//                            (goal: no error)
//   node-postgres:           connect-per-transaction again, from Node's own client (no goal): the
//                            same work with a client whose SCRAM login costs a fifth of libpq's
//
// Besides the rates it reports the CPU each side spent per transaction: pgbench (the client),
// the server (postmaster and every backend) and PgBouncer, so that the numbers can be explained,
// and from them the most any pool could gain under connect-per-transaction: each pgbench thread
// logs in one connection at a time, and every SCRAM login costs it the same key derivation
// whoever answers, so its threads cannot exceed THREADS x 1000 / (its CPU ms per login) tps.
import { execa, execaSync } from 'execa';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { PG_BIN, Sandbox } from '../test/image/sandbox.js';
import { type Pool, startPool } from '../test/pool/pool.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const SCALE = Number(process.env.BENCH_SCALE ?? 10);
const TICKS_PER_SECOND = 100;
const THREADS = 2;

interface Run {
  name: string;
  target: 'direct' | 'pooled';
  tps: number | null;
  transactions: number;
  failed: number;
  error: string | null;
  /** CPU milliseconds per transaction, by who spent them. */
  cpu: { client: number; server: number; pool: number } | null;
}

function ticks(pid: number, fields: number[]): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Field numbers as in proc(5); `after` starts at field 3.
  return fields.reduce((sum, field) => sum + Number(after[field - 3]), 0);
}

/** CPU ticks of the postmaster, the children it reaped, and the backends still running. */
function serverTicks(postmaster: number): number {
  const children = fs.readFileSync(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  let total = ticks(postmaster, [14, 15, 16, 17]);
  for (const child of children) {
    try {
      total += ticks(Number(child), [14, 15]);
    } catch {
      // ended between the two reads: counted in the postmaster's share at the next snapshot
    }
  }
  return total;
}

/** What a client run reports; the server's and PgBouncer's CPU is measured around it. */
interface ClientResult {
  tps: number | null;
  transactions: number;
  failed: number;
  error: string | null;
  clientMs: number;
}

async function measure(name: string, target: Run['target'], postmaster: number, pool: Pool | null, client: () => Promise<ClientResult>): Promise<Run> {
  const poolTicks = () => (pool ? ticks(pool.server.process.pid!, [14, 15]) : 0);
  const before = { server: serverTicks(postmaster), pool: poolTicks() };
  const result = await client();
  const after = { server: serverTicks(postmaster), pool: poolTicks() };
  const { transactions } = result;
  const perTransaction = (value: number) => (transactions > 0 ? value / transactions : NaN);
  const run: Run = {
    name,
    target,
    tps: result.tps,
    transactions,
    failed: result.failed,
    error: result.error,
    cpu: transactions > 0
      ? {
          client: perTransaction(result.clientMs),
          server: perTransaction(((after.server - before.server) * 1000) / TICKS_PER_SECOND),
          pool: perTransaction(((after.pool - before.pool) * 1000) / TICKS_PER_SECOND),
        }
      : null,
  };
  console.log(`${run.name}, ${run.target}: tps ${fixed(run.tps)}, ${run.transactions} transactions${run.error ? `, failed: ${run.error}` : ''}`);
  return run;
}

async function pgbench(box: Sandbox, port: number, args: string[]): Promise<ClientResult> {
  // `times` prints the CPU time of the shell's children: pgbench's own.
  const result = await execa('bash', ['-c', '"$@"; rc=$?; times >&2; exit $rc', 'pgbench', path.join(PG_BIN, 'pgbench'),
    '--host=127.0.0.1', `--port=${port}`, '--username=poststack', '--no-vacuum', '-S', `-T${SECONDS}`, `-j${THREADS}`, ...args, 'poststack'],
  { env: { PGPASSWORD: box.password }, reject: false, all: true });
  const out = String(result.all);
  const tps = /^tps = ([\d.]+)/m.exec(out);
  // The last line of `times` is its children's user and system time.
  const cpuLine = out.trim().split('\n').at(-1) ?? '';
  const seconds = [...cpuLine.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return {
    tps: tps ? Number(tps[1]) : null,
    transactions: Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1] ?? 0),
    failed: Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? 0),
    error: result.exitCode === 0 ? null : (/error: (.*)$/m.exec(out)?.[1] ?? `exit ${result.exitCode}`).replace(/\s+/g, ' '),
    clientMs: seconds.reduce((sum, s) => sum + s, 0) * 1000,
  };
}

/** pgbench -C -S's transaction from node-postgres: CLIENTS loops, each logging in, reading one
 * row and logging out, for SECONDS. Its SCRAM key derivation is Node's (OpenSSL's PBKDF2, off the
 * main thread), not libpq's. */
async function nodePostgres(box: Sandbox, port: number, clients: number): Promise<ClientResult> {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  let transactions = 0;
  let failed = 0;
  let error: string | null = null;
  const loop = async () => {
    while (performance.now() < deadline) {
      const client = new pg.Client({ host: '127.0.0.1', port, user: 'poststack', database: 'poststack', password: box.password });
      try {
        await client.connect();
        await client.query('SELECT abalance FROM pgbench_accounts WHERE aid = $1', [1 + Math.floor(Math.random() * SCALE * 100_000)]);
        transactions += 1;
      } catch (e) {
        failed += 1;
        error ??= String(e);
      } finally {
        await client.end().catch(() => undefined);
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, loop));
  const cpu = process.cpuUsage(cpuBefore);
  return {
    tps: transactions / ((performance.now() - started) / 1000),
    transactions,
    failed,
    error,
    clientMs: (cpu.user + cpu.system) / 1000,
  };
}

function machine(): string {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  const memory = (os.totalmem() / 2 ** 30).toFixed(0);
  const pgbouncer = fs.existsSync('/usr/sbin/pgbouncer') ? execaSyncFirstLine('/usr/sbin/pgbouncer', ['--version']) : 'PgBouncer missing';
  const postgres = execaSyncFirstLine(path.join(PG_BIN, 'postgres'), ['--version']);
  return `${os.cpus().length} cores (${cpu}), ${memory} GiB, Linux ${os.release()}; ${postgres}; ${pgbouncer}; load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
}

function execaSyncFirstLine(file: string, args: string[]): string {
  return String(execaSync(file, args).stdout).split('\n')[0] ?? '';
}

const fixed = (value: number | null | undefined, digits = 1) => (value === null || value === undefined || Number.isNaN(value) ? '-' : value.toFixed(digits));

function table(runs: Run[]): string {
  const rows = runs.map((run) => {
    const outcome = run.error ? `**failed**: ${run.error}` : `${run.failed} failed`;
    const cpu = run.cpu ? `${fixed(run.cpu.client, 2)} / ${fixed(run.cpu.server, 2)} / ${run.target === 'direct' ? '-' : fixed(run.cpu.pool, 2)}` : '-';
    return `| ${run.name} | ${run.target} | ${fixed(run.tps)} | ${run.transactions} | ${outcome} | ${cpu} |`;
  });
  return ['| run | target | tps | transactions | errors | CPU ms per transaction: client / PostgreSQL / PgBouncer |', '| --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
}

/** The rate pgbench's own CPU allows it, a thread per core, whatever answers its logins. */
function clientCeiling(direct: Run, pooled: Run): string {
  if (!pooled.cpu || !direct.tps) return '-';
  const tps = (THREADS * 1000) / pooled.cpu.client;
  return `${THREADS} threads x 1000 / ${fixed(pooled.cpu.client, 2)} ms of pgbench's CPU per login = ${fixed(tps)} tps, ${(tps / direct.tps).toFixed(2)}x direct`;
}

async function main(): Promise<void> {
  const out = process.argv[2];
  const header = `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}. ${SECONDS} s per run, pgbench scale ${SCALE}, -S (read-only), ${THREADS} threads, SCRAM logins, max_connections 100, PgBouncer defaults (transaction mode, default_pool_size 20, max_client_conn 1000).`;
  console.log(header);
  const box = await Sandbox.create(randomBytes(24).toString('base64url'));
  try {
    await box.startReady();
    const postmaster = Number(fs.readFileSync(path.join(box.paths.pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const init = await execa(path.join(PG_BIN, 'pgbench'), ['--host=127.0.0.1', `--port=${box.port}`, '--username=poststack', '-i', '-q', `-s${SCALE}`, 'poststack'],
      { env: { PGPASSWORD: box.password }, all: true, reject: false });
    if (init.exitCode !== 0) throw new Error(`pgbench -i failed:\n${init.all}`);
    const pool = await startPool(box);

    const connect = 'new connection per transaction, 50 clients (-C -c 50)';
    const connectDirect = await measure(connect, 'direct', postmaster, null, () => pgbench(box, box.port, ['-C', '-c50']));
    const connectPooled = await measure(connect, 'pooled', postmaster, pool, () => pgbench(box, pool.port, ['-C', '-c50']));
    const many = '500 clients (-c 500)';
    const manyDirect = await measure(many, 'direct', postmaster, null, () => pgbench(box, box.port, ['-c500']));
    const manyPooled = await measure(many, 'pooled', postmaster, pool, () => pgbench(box, pool.port, ['-c500']));
    const node = 'the same as -C -c 50 from node-postgres';
    const nodeDirect = await measure(node, 'direct', postmaster, null, () => nodePostgres(box, box.port, 50));
    const nodePooled = await measure(node, 'pooled', postmaster, pool, () => nodePostgres(box, pool.port, 50));
    const runs = [connectDirect, connectPooled, manyDirect, manyPooled, nodeDirect, nodePooled];
    await box.stop(pool.server, 'SIGINT');

    const ratio = (connectPooled.tps ?? 0) / (connectDirect.tps ?? Infinity);
    const goals = [
      `connect-per-transaction: pooled / direct = ${ratio.toFixed(2)} (goal: at least 5)`,
      `the most any pool could reach there, bound by pgbench's own SCRAM logins: ${clientCeiling(connectDirect, connectPooled)}`,
      `the same from node-postgres: pooled / direct = ${((nodePooled.tps ?? 0) / (nodeDirect.tps ?? Infinity)).toFixed(2)}`,
      `500 clients pooled: ${manyPooled.error ? `failed (${manyPooled.error})` : `${manyPooled.failed} failed transactions`} (goal: 0)`,
    ];
    const report = [header, '', table(runs), '', ...goals.map((goal) => `- ${goal}`)].join('\n');
    console.log(`\n${report}`);
    if (out) {
      fs.writeFileSync(out, `${report}\n`);
      console.log(`bench: results written to ${out}`);
    }
    if (ratio < 5 || manyPooled.error || manyPooled.failed > 0) process.exitCode = 1;
  } finally {
    await box.cleanup();
  }
}

await main();
