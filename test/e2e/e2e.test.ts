// The whole product as a user runs it, on a real systemd 257 with Podman 5.4's Quadlet: a Debian
// trixie machine booted with systemd-nspawn (private network: only its own loopback is ever
// addressed), our image built from image/ and our CLI run inside with the machine's Node.
//
// Each numbered step is a test; a failure names the step and shows the units' journal from inside
// the machine. A step whose prerequisite failed fails at once, saying which one. Every wait is
// bounded, and the last test proves the machine left no process, mount or cgroup behind.
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cacheDir, systemdMissing, trixieRoot } from '../support/real-tools.js';
import { skipUnless } from '../support/skip.js';
import { Machine, type RunOptions } from './machine.js';
import { startProxy } from './proxy.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const TRIXIE = path.join(REPO, 'test/support/trixie.sh');
const IMAGE = 'localhost/postgres-debian:15';
const BASE_IMAGE = 'localhost/base-debian:latest';
// Inside the machine.
const APP = '/opt/pg-quadlet';
// The CLI as a user has it: the packed tarball installed with `npm install --global` (step 1).
const CLI = '/usr/local/bin/pg-quadlet';
const PROXY_PORT = 3128;
const CLIENT = `${APP}/test/e2e/client.mjs`;
const SRV = '/srv/e2e';
const DOMAIN = 'db.e2e.test';
const NAME = 'poststack-postgres';
const SERVICE = `${NAME}.service`;
const BACKUP_SERVICE = `${NAME}-backup.service`;
const BACKUP_TIMER = `${NAME}-backup.timer`;
const FULL_BACKUP_TIMER = `${NAME}-backup-full.timer`;
const UPDATE_SERVICE = `${NAME}-update.service`;
const UPDATE_TIMER = `${NAME}-update.timer`;
const TLS_NAME = 'poststack-tls';
const TIMING_NAME = 'poststack-timing';
const POOL_NAME = 'poststack-pooled';
const APPLY_NAME = 'poststack-apply';
const S3_NAME = 'poststack-offsite';
const LOOP_NAME = 'poststack-loop';
const BROKEN_IMAGE = 'localhost/pg-quadlet-e2e-broken:15';
// The S3-compatible store (s3rver) runs in the machine; containers reach it through the name
// Podman gives the host, with a certificate for that name from a CA made here.
const S3_HOST = 'host.containers.internal';
const S3_PORT = 9443;
const S3_BUCKET = 'pg-offsite';
// Goals on these machines: ready this soon after `systemctl start`.
const GOAL_FIRST_START_MS = 2000;
const GOAL_START_MS = 1000;
const APP_USER = 'pgapp';
// Every character that breaks naive quoting in a shell, SQL, a URL or a config file.
const PASSWORD = `p'a"s$s\`id\` w;o rd%2F/?#@:ü€ $(x)`;
const USER_PASSWORD = 'rootless p@ss/wörd';
const NEW_PASSWORD = `rotated: it's "new" $x ü`;

function e2eMissing(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (systemd-nspawn, namespaces, cgroups)';
  for (const tool of ['systemd-nspawn', 'nsenter', 'unshare', 'flock', 'openssl', 'findmnt']) {
    const found = (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').some((dir) => fs.existsSync(path.join(dir, tool)));
    if (!found) return `${tool} is not installed (package ${tool === 'systemd-nspawn' ? 'systemd-container' : tool === 'openssl' ? 'openssl' : 'util-linux'}); run test/setup.sh as root`;
  }
  if (!fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').some((line) => line.split(' ')[2] === 'cgroup2')) {
    return 'no cgroup2 hierarchy is mounted: systemd in the machine needs one';
  }
  return systemdMissing();
}

const test = skipUnless(suite('e2e: the product on a real systemd + Podman host'), e2eMissing(), 'end to end on a booted systemd + Podman machine');

// ---------------------------------------------------------------------------------------------
// Shared state of the scenario

let machine: Machine | undefined;
let runDir = '';
let appUid = 0;
const passed = new Set<string>();
const measurements: Record<string, number | number[] | string> = {};
let machineName = '';

function on(): Machine {
  if (!machine) throw new Error('the machine is not running');
  return machine;
}

/** Runs a numbered step: refuses when a prerequisite failed, bounds it in time, and on failure
 * names it and attaches the journal of the units it concerns, read inside the machine. */
async function step(
  id: string,
  title: string,
  options: { needs?: string[]; units?: string[]; userUnits?: string[]; timeoutMs: number },
  body: () => Promise<void>,
): Promise<void> {
  const label = `step ${id} (${title})`;
  const missing = (options.needs ?? []).filter((need) => !passed.has(need));
  if (missing.length > 0) throw new Error(`${label} not run: it needs step ${missing.join(', ')}, which did not pass`);
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      body().then(() => {
        // Shows what a failure looks like, and that the machine is still cleaned up after one.
        if (process.env.PG_QUADLET_E2E_FAIL_AT === id) throw new Error('failing on purpose (PG_QUADLET_E2E_FAIL_AT)');
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${options.timeoutMs / 1000} s`)), options.timeoutMs);
      }),
    ]);
  } catch (error) {
    const headline = `${label} failed after ${((Date.now() - started) / 1000).toFixed(1)} s`;
    let report = `${headline}: ${(error as Error).message}`;
    const since = Math.floor(started / 1000) - 1;
    if (machine) {
      const units = options.units ?? [SERVICE];
      report += `\n--- journalctl -u ${units.join(' -u ')} (inside the machine, since the step began) ---\n${await machine.journal(units, { since })}`;
      if (options.userUnits) {
        report += `\n--- journalctl --user-unit ${options.userUnits.join(' --user-unit ')} (the user's units, since the step began) ---\n${await machine.journal(options.userUnits, { since, user: true })}`;
      }
    } else {
      report += '\n(the machine is not running: no journal)';
    }
    const failure = new Error(report);
    // uvu prints the message, then the stack from its first line break on: keep only the frames.
    failure.stack = `Error: ${headline}\n${((error as Error).stack ?? '').split('\n').filter((line) => /^\s+at /.test(line)).join('\n')}`;
    throw failure;
  } finally {
    clearTimeout(timer);
  }
  passed.add(id);
  console.log(`  ${label}: passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

// ---------------------------------------------------------------------------------------------
// Helpers that act as the user would, inside the machine

interface As {
  readonly user?: { readonly name: string; readonly uid: number };
}

/** pg-quadlet, run as a transient unit (a clean environment, a real cgroup, like a login). */
function cli(args: string[], as: As = {}, options: RunOptions = {}): Promise<string> {
  return on().must([CLI, ...args], { unit: true, timeoutMs: 330_000, ...as, ...options });
}

/** `systemctl [--user] start UNIT`, timed inside the machine: what a user waits for. */
async function timedSystemctl(verb: string, unit: string, as: As = {}): Promise<number> {
  const user = as.user ? ['--user'] : [];
  const out = await on().must(
    ['sh', '-c', 't=$(date +%s%N); systemctl "$@"; rc=$?; echo $(( ($(date +%s%N) - t) / 1000000 )); exit $rc', 'sh', ...user, verb, unit],
    { timeoutMs: 330_000, ...(as.user ? { user: as.user } : {}) },
  );
  return Number(out.trim().split('\n').at(-1));
}

async function psql(url: string, sql: string, as: As = {}): Promise<string> {
  const out = await on().must(['psql', url, '--no-psqlrc', '--quiet', '--tuples-only', '--no-align', '--set=ON_ERROR_STOP=1', '--command', sql], {
    timeoutMs: 60_000,
    ...(as.user ? { user: as.user } : {}),
  });
  return out.trim();
}

interface ClientResult {
  ok: boolean;
  results?: unknown[][];
  ssl?: boolean;
  code?: string | null;
  message?: string;
}

/** node-postgres inside the machine, given the URL an application would get. */
async function pgClient(url: string, ...sql: string[]): Promise<ClientResult> {
  const result = await on().run(['node', CLIENT, url, ...sql], { unit: true, timeoutMs: 60_000 });
  try {
    return JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '') as ClientResult;
  } catch {
    throw new Error(`client.mjs printed no result (exit ${result.exitCode}):\n${result.stdout}\n${result.stderr}`);
  }
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs / 1000} s for ${what}${last ? `; last error: ${(last as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function show(unit: string, properties: string[], as: As = {}): Promise<Record<string, string>> {
  const out = await on().must(['systemctl', ...(as.user ? ['--user'] : []), 'show', unit, `--property=${properties.join(',')}`], as.user ? { user: as.user } : {});
  return Object.fromEntries(out.split('\n').filter((line) => line.includes('=')).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

async function health(container: string, as: As = {}): Promise<string> {
  const result = await on().run(['podman', 'inspect', '--type=container', '--format={{.State.Health.Status}}', container], as.user ? { user: as.user } : {});
  return result.exitCode === 0 ? result.stdout.trim() : `(not running: ${result.stderr.trim()})`;
}

async function assertServing(container: string, as: As = {}): Promise<void> {
  const unit = await show(`${container}.service`, ['ActiveState', 'SubState'], as);
  assert.equal(unit, { ActiveState: 'active', SubState: 'running' }, `${container}.service is active`);
  assert.is(await health(container, as), 'healthy', `${container}'s health check`);
}

// ---------------------------------------------------------------------------------------------
// Preparation on the host: the CLI build, the image, certificates, configs; then the boot.

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** The CLI runs from dist/: rebuild it when a source is newer (a checkout that was edited). */
async function ensureBuilt(): Promise<void> {
  const bin = path.join(REPO, 'dist/bin/pg-quadlet.js');
  const sources = Math.max(newestMtime(path.join(REPO, 'lib')), newestMtime(path.join(REPO, 'bin')), fs.statSync(path.join(REPO, 'package.json')).mtimeMs);
  if (fs.existsSync(bin) && fs.statSync(bin).mtimeMs >= sources) return;
  const build = await execa('npm', ['run', 'build', '--silent'], { cwd: REPO, all: true, reject: false, timeout: 300_000 });
  if (build.exitCode !== 0) throw new Error(`npm run build failed:\n${build.all}`);
}

async function trixie(args: string[], timeoutMs: number): Promise<void> {
  const result = await execa('bash', ['--norc', '--noprofile', TRIXIE, ...args], { reject: false, timeout: timeoutMs, stdin: 'ignore' });
  if (result.exitCode !== 0) throw new Error(`trixie.sh ${args.join(' ')} failed (exit ${result.exitCode}):\n${result.stderr}`);
}

/** A CA and a certificate for DOMAIN, in a certificate directory as a host holds them: the key
 * readable only by root and the certgroup (GID 990). */
async function makeCertificates(srv: string): Promise<void> {
  const work = path.join(srv, 'tls');
  const dir = path.join(srv, 'certs', DOMAIN);
  fs.mkdirSync(work, { recursive: true });
  fs.mkdirSync(dir, { recursive: true });
  const openssl = (...args: string[]) => execa('openssl', args, { cwd: work, timeout: 30_000 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=pg-quadlet e2e CA');
  await openssl('req', ...ec, '-keyout', path.join(dir, 'privkey.pem'), '-out', 'server.csr', '-subj', `/CN=${DOMAIN}`);
  fs.writeFileSync(path.join(work, 'san.ext'), `subjectAltName=DNS:${DOMAIN}\n`);
  await openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', path.join(dir, 'fullchain.pem'), '-days', '2', '-extfile', 'san.ext');
  fs.chmodSync(path.join(dir, 'fullchain.pem'), 0o644);
  fs.chownSync(path.join(dir, 'privkey.pem'), 0, 990);
  fs.chmodSync(path.join(dir, 'privkey.pem'), 0o640);
  fs.chmodSync(path.join(work, 'ca.pem'), 0o644);
}

/** A CA and a certificate for the store's name, for s3rver in the machine. */
async function makeS3Certificates(srv: string): Promise<void> {
  const dir = path.join(srv, 's3');
  fs.mkdirSync(dir, { recursive: true });
  const openssl = (...args: string[]) => execa('openssl', args, { cwd: dir, timeout: 30_000 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=pg-quadlet e2e S3 CA');
  await openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${S3_HOST}`);
  fs.writeFileSync(path.join(dir, 'san.ext'), `subjectAltName=DNS:${S3_HOST}\n`);
  await openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext');
  fs.chmodSync(path.join(dir, 'ca.pem'), 0o644);
}

/** Starts s3rver in the machine as a transient service (gone at the next boot, like an outage);
 * its objects stay in SRV/s3/objects. */
async function startS3(): Promise<void> {
  await on().must([
    'systemd-run', '--unit=e2e-s3', '--quiet', '--collect', '--',
    'node', `${APP}/node_modules/s3rver/bin/s3rver.js`, '--directory', `${SRV}/s3/objects`, '--address', '0.0.0.0', '--port', String(S3_PORT),
    '--key', `${SRV}/s3/server.key`, '--cert', `${SRV}/s3/server.crt`, '--no-vhost-buckets', '--configure-bucket', S3_BUCKET, '--silent',
  ]);
  await waitFor('s3rver to listen', 30_000, async () => ((await on().run(['bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${S3_PORT}`])).exitCode === 0 ? true : undefined));
}

/** The way from the machine to the host's proxy for Debian's mirror (test/e2e/proxy.ts), as a
 * transient service: started again after a reboot. */
async function relayProxy(): Promise<void> {
  if ((await on().run(['systemctl', 'is-active', '--quiet', 'e2e-proxy.service'])).exitCode === 0) return;
  await on().must(['systemd-run', '--unit=e2e-proxy', '--quiet', '--collect', '--', 'node', `${APP}/test/e2e/relay.mjs`, String(PROXY_PORT), `${SRV}/proxy.sock`]);
}

/** The tree's installed version of a package, from its dpkg database. */
function treeVersion(pkg: string): string {
  const status = fs.readFileSync(path.join(trixieRoot, 'var/lib/dpkg/status'), 'utf8');
  const version = status.split('\n\n').find((stanza) => stanza.startsWith(`Package: ${pkg}\n`))?.match(/^Version: (.+)$/m)?.[1];
  if (!version) throw new Error(`${pkg} is not installed in the trixie tree`);
  return version;
}

/**
 * Debian packages a host would have that the tree lacks, fetched once from Debian's mirror with
 * apt (private lists and cache, apt's own configuration untouched) into the test cache. The tree
 * is built without Recommends; Podman recommends dbus-user-session, and without a user D-Bus
 * rootless Podman puts its pause process in the service's cgroup, where a restart sometimes
 * loses the service's readiness notification. Pinned to the tree's dbus version, which the
 * package requires exactly.
 */
async function hostPackages(): Promise<string[]> {
  const wanted = [`dbus-user-session=${treeVersion('dbus-daemon')}`];
  const dir = path.join(cacheDir, 'e2e-debs');
  const file = (spec: string) => path.join(dir, `${spec.replace('=', '_').replace(/:/g, '%3a')}.deb`);
  const missing = wanted.filter((spec) => !fs.existsSync(file(spec)));
  if (missing.length > 0) {
    const work = fs.mkdtempSync(path.join(cacheDir, 'e2e-debs.tmp-'));
    try {
      for (const sub of ['lists/partial', 'cache/archives/partial', 'deb']) fs.mkdirSync(path.join(work, sub), { recursive: true });
      fs.writeFileSync(path.join(work, 'trixie.sources'),
        'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n');
      const apt = ['-o', `Dir::Etc::SourceList=${work}/trixie.sources`, '-o', 'Dir::Etc::SourceParts=/nonexistent',
        '-o', `Dir::State::Lists=${work}/lists`, '-o', `Dir::Cache=${work}/cache`, '-o', 'APT::Sandbox::User=root'];
      for (const args of [['update'], ['download', ...missing]]) {
        const result = await execa('apt-get', [...apt, ...args], { cwd: path.join(work, 'deb'), reject: false, all: true, timeout: 300_000 });
        if (result.exitCode !== 0) throw new Error(`apt-get ${args.join(' ')} failed:\n${result.all}`);
      }
      fs.mkdirSync(dir, { recursive: true });
      for (const spec of missing) {
        const name = fs.readdirSync(path.join(work, 'deb')).find((f) => f.startsWith(`${spec.split('=')[0]}_`));
        if (!name) throw new Error(`apt-get download left no package for ${spec}`);
        fs.renameSync(path.join(work, 'deb', name), file(spec));
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }
  return wanted.map(file);
}


/**
 * The package as npm publishes it (`npm pack`), installed with `npm install --global` into the
 * directory the machine mounts as its /usr/local: the machine has Node but no npm and no network,
 * and this is the tree `npm install --global` makes there.
 */
async function packForMachine(srv: string): Promise<void> {
  const packed = await execa('npm', ['pack', '--ignore-scripts', '--json', `--pack-destination=${srv}`], { cwd: REPO, timeout: 120_000 });
  const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
  const prefix = path.join(runDir, 'usr-local');
  fs.mkdirSync(prefix, { mode: 0o755 });
  await execa('npm', ['install', '--global', `--prefix=${prefix}`, '--no-audit', '--no-fund', path.join(srv, filename)], { timeout: 300_000 });
  fs.copyFileSync(path.join(cacheDir, 'base-debian-bookworm.tar'), path.join(srv, 'base.tar'));
}

function writeConfigs(srv: string): void {
  const files: Record<string, string> = {
    'poststack.ini': [
      '; The scenario\'s service: the defaults, with a smaller cache and the backup at 03:30,',
      '; built from the local Debian base, updated on Tuesdays at 05:00.',
      `name = ${NAME}`,
      'sharedBuffers = 128MB',
      '[backup]',
      'schedule = 30 3 * * *',
      '[build]',
      `baseImage = ${BASE_IMAGE}`,
      '[update]',
      'schedule = 0 5 * * tue',
      '',
    ].join('\n'),
    'tls.ini': [
      `name = ${TLS_NAME}`,
      'port = 5433',
      'sharedBuffers = 64MB',
      '[tls]',
      `domain = ${DOMAIN}`,
      `certificatesDir = ${SRV}/certs`,
      '[backup]',
      'enabled = false',
      '',
    ].join('\n'),
    // The defaults, on a port and with names of their own: what a user's first install gets.
    'timing.ini': [`name = ${TIMING_NAME}`, 'port = 5434', '[backup]', 'enabled = false', ''].join('\n'),
    'user.ini': [`name = ${NAME}`, 'port = 5440', 'sharedBuffers = 64MB', ''].join('\n'),
    // A service whose config the scenario changes the way operators do.
    'apply.ini': [`name = ${APPLY_NAME}`, 'port = 5437', 'sharedBuffers = 64MB', '[backup]', 'schedule = 30 3 * * *', ''].join('\n'),
    // A service with an encrypted off-host copy: the disaster-recovery drill.
    's3.ini': [
      `name = ${S3_NAME}`, 'port = 5438', 'sharedBuffers = 64MB',
      '[backup]', 'encrypt = true', 'archiveTimeoutSec = 5',
      '[backup.s3]', `endpoint = ${S3_HOST}`, `port = ${S3_PORT}`, `bucket = ${S3_BUCKET}`, 'region = us-east-1', 'uriStyle = path', `caFile = ${SRV}/s3/ca.pem`, '',
    ].join('\n'),
    // A service on an image broken on purpose: it fails at every start.
    'loop.ini': [`name = ${LOOP_NAME}`, 'port = 5439', 'sharedBuffers = 64MB', `image = ${BROKEN_IMAGE}`, '[backup]', 'enabled = false', ''].join('\n'),
    'pool.ini': [`name = ${POOL_NAME}`, 'port = 5436', 'sharedBuffers = 64MB', '[pool]', 'enabled = true', 'port = 6436', '[backup]', 'enabled = false', ''].join('\n'),
  };
  for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(srv, file), text, { mode: 0o644 });
  // Our image with an entrypoint that fails at once: an update that must be rolled back, and a crash loop.
  fs.mkdirSync(path.join(srv, 'broken'));
  fs.writeFileSync(path.join(srv, 'broken/Containerfile'), [
    `FROM ${IMAGE}`,
    'USER root',
    `RUN printf '#!/bin/sh\\necho "broken on purpose" >&2\\nexit 1\\n' > /usr/local/bin/entrypoint.sh`,
    'USER postgres',
    '',
  ].join('\n'), { mode: 0o644 });
  fs.writeFileSync(path.join(srv, 'password'), `${PASSWORD}\n`, { mode: 0o600 });
  fs.writeFileSync(path.join(srv, 'user-password'), `${USER_PASSWORD}\n`, { mode: 0o600 });
  fs.writeFileSync(path.join(srv, 'new-password'), `${NEW_PASSWORD}\n`, { mode: 0o600 });
  fs.mkdirSync(path.join(srv, 'bench'), { mode: 0o777 });
  fs.chmodSync(path.join(srv, 'bench'), 0o777);
  // One row per transaction, tagged with the round and pgbench's client number, so committed rows
  // can be counted per client against pgbench's own log of acknowledged transactions.
  fs.writeFileSync(path.join(srv, 'bench/insert.sql'), 'INSERT INTO e2e_ledger (round, client) VALUES (:round, :client_id);\n', { mode: 0o644 });
}

const url = async (config: string, as: As = {}) => (await cli(['--config', `${SRV}/${config}`, 'url', '--show-password'], as)).trim();

// ---------------------------------------------------------------------------------------------
// The scenario

test('step 0 (prepare): CLI built, image built from image/, machine booted with it loaded', async () => {
  await step('0', 'prepare', { timeoutMs: 15 * 60_000 }, async () => {
    await ensureBuilt();
    // Online, with the host's network, before the machine (which has none) boots.
    const buildStarted = Date.now();
    await trixie(['base-image'], 10 * 60_000);
    await trixie(['build', path.join(REPO, 'image'), IMAGE, '--build-arg', `BASE_IMAGE=${BASE_IMAGE}`], 20 * 60_000);
    measurements.imageBuildMs = Date.now() - buildStarted;

    // A run killed outright (SIGKILL) leaves its directory; its machine powered off on its own.
    for (const entry of fs.readdirSync('/var/tmp').filter((name) => name.startsWith('pg-quadlet-e2e-'))) {
      const stale = path.join('/var/tmp', entry);
      if (Date.now() - fs.statSync(stale).mtimeMs > 3 * 3600_000) fs.rmSync(stale, { recursive: true, force: true });
    }
    runDir = fs.mkdtempSync('/var/tmp/pg-quadlet-e2e-');
    const srv = path.join(runDir, 'srv');
    for (const dir of ['machine', 'containers', 'home', 'srv']) fs.mkdirSync(path.join(runDir, dir), { mode: 0o755 });
    // The machine's container storage is its own (Podman's overlay cannot live on the machine's
    // overlay root, and the tree's store stays untouched): the image travels as an archive.
    // The tree's /var/tmp is where its Podman can write a file the host sees.
    const archive = `/var/tmp/${path.basename(runDir)}.tar`;
    try {
      await trixie(['run-podman', 'save', '--format=docker-archive', `--output=${archive}`, IMAGE], 5 * 60_000);
      fs.copyFileSync(path.join(trixieRoot, archive), path.join(srv, 'image.tar'));
    } finally {
      fs.rmSync(path.join(trixieRoot, archive), { force: true });
    }
    fs.chmodSync(path.join(srv, 'image.tar'), 0o644);
    await packForMachine(srv);
    startProxy(path.join(srv, 'proxy.sock'));
    await makeCertificates(srv);
    await makeS3Certificates(srv);
    writeConfigs(srv);
    fs.mkdirSync(path.join(srv, 'debs'));
    for (const deb of await hostPackages()) fs.copyFileSync(deb, path.join(srv, 'debs', path.basename(deb)));

    const bindRo = (from: string, to: string) => `--bind-ro=${path.join(REPO, from)}:${APP}/${to}`;
    machine = await Machine.boot({
      runDir: path.join(runDir, 'machine'),
      nspawnArgs: [
        `--bind=${path.join(runDir, 'containers')}:/var/lib/containers`,
        `--bind=${path.join(runDir, 'home')}:/home`,
        `--bind=${srv}:${SRV}`,
        `--bind=${path.join(runDir, 'usr-local')}:/usr/local`,
        bindRo('package.json', 'package.json'),
        bindRo('dist', 'dist'),
        bindRo('node_modules', 'node_modules'),
        bindRo('units', 'units'),
        bindRo('test/e2e', 'test/e2e'),
      ],
    });
    machineName = machine.name;
    assert.is(machine.state, 'running', 'the machine boots with no failed unit');
    // What a real host has and a container does not: the certificate's name resolves, and
    // /dev/net/tun is usable by every user (udev's rule; nspawn copies the host's 0600 node),
    // which rootless Podman's network (pasta) opens. tmpfiles applies it at every boot.
    await on().must(['sh', '-c', `echo "127.0.0.1 ${DOMAIN}" >> /etc/hosts`]);
    await on().must(['sh', '-c', 'echo "z /dev/net/tun 0666 - - -" > /etc/tmpfiles.d/e2e-tun.conf && systemd-tmpfiles --create /etc/tmpfiles.d/e2e-tun.conf']);
    await on().must(['sh', '-c', `dpkg --install ${SRV}/debs/*.deb`], { timeoutMs: 120_000 });
    // A host's network setup reaches network-online.target at boot; rootless Quadlet units wait
    // for it (podman-user-wait-network-online.service, up to 90 s) and nothing else here pulls
    // it in when no rootful container runs.
    await on().must(['systemctl', 'add-wants', 'multi-user.target', 'network-online.target']);
    await on().must(['systemctl', 'start', 'network-online.target']);
    // Root's container storage holds no image of ours: step 1's install builds it. The image from
    // the host is for the rootless step, whose user has a store of its own.
    assert.is((await on().run(['podman', 'image', 'exists', IMAGE])).exitCode, 1, `no ${IMAGE} in the machine before the install`);
  });
});

test('step 1 (install): the packed tarball installed with npm; pg-quadlet install builds the image, writes the units and the secret; systemctl start returns ready; psql and pg connect', async () => {
  await step('1', 'install', { needs: ['0'], timeoutMs: 20 * 60_000 }, async () => {
    // The Debian base the build starts from (Docker Hub is out of reach), and the way to the mirror.
    await on().must(['sh', '-c', `podman import --quiet - ${BASE_IMAGE} < ${SRV}/base.tar`], { unit: true, timeoutMs: 180_000 });
    await relayProxy();
    const started = Date.now();
    const installed = await on().run([CLI, '--config', `${SRV}/poststack.ini`, 'install', '--password-file', `${SRV}/password`], {
      unit: true, timeoutMs: 15 * 60_000, env: { http_proxy: `http://host.containers.internal:${PROXY_PORT}` },
    });
    if (installed.exitCode !== 0) throw new Error(`install failed (exit ${installed.exitCode}):\n${installed.stdout}\n${installed.stderr.split('\n').slice(-40).join('\n')}`);
    measurements.installWithBuildMs = Date.now() - started;
    assert.match(installed.stdout, /podman build --tag=localhost\/postgres-debian:15 --build-arg=BASE_IMAGE=localhost\/base-debian:latest .*\/usr\/local\/lib\/node_modules\/pg-quadlet\/image/);
    assert.match(installed.stderr, /^\.\.\. \[1\/2\] STEP 1\/\d+: FROM localhost\/base-debian:latest AS build \(\d+ s\)$/m, `progress shows each build step:\n${installed.stderr.slice(-3000)}`);
    assert.match(installed.stdout, /podman secret create/);
    measurements.imageBytes = Number(await on().must(['podman', 'image', 'inspect', '--format={{.Size}}', IMAGE]));
    for (const file of [`/etc/containers/systemd/${NAME}.container`, `/etc/systemd/system/${BACKUP_TIMER}`]) {
      await on().must(['test', '-f', file]);
    }
    measurements.firstStartMs = await timedSystemctl('start', SERVICE);
    await assertServing(NAME);
    assert.match(await on().journal([SERVICE], { lines: 1000 }), /first start complete/, 'the first start initialized the cluster');

    const databaseUrl = await url('poststack.ini');
    assert.ok(databaseUrl.startsWith('postgresql://poststack:'), databaseUrl);
    assert.is(await psql(databaseUrl, 'SELECT current_user'), 'poststack');
    const client = await pgClient(databaseUrl, "SELECT current_user AS who, current_setting('shared_buffers') AS buffers");
    assert.equal(client, { ok: true, results: [[{ who: 'poststack', buffers: '128MB' }]], ssl: false }, JSON.stringify(client));
  });
});

test('step 2 (persistence): rows survive systemctl restart, and a power-off and boot that starts the service by itself', async () => {
  await step('2', 'persistence', { needs: ['1'], timeoutMs: 5 * 60_000 }, async () => {
    const databaseUrl = await url('poststack.ini');
    await psql(databaseUrl, "CREATE TABLE e2e_items (id int PRIMARY KEY, note text); INSERT INTO e2e_items SELECT i, 'row ' || i FROM generate_series(1, 1000) i");

    measurements.restartMs = await timedSystemctl('restart', SERVICE);
    await assertServing(NAME);
    assert.is(await psql(databaseUrl, 'SELECT count(*) FROM e2e_items'), '1000', 'after systemctl restart');

    const starts: number[] = [];
    for (let i = 0; i < 3; i++) {
      await on().must(['systemctl', 'stop', SERVICE], { timeoutMs: 120_000 });
      starts.push(await timedSystemctl('start', SERVICE));
    }
    measurements.startExistingMs = starts;
    await assertServing(NAME);

    await on().reboot();
    // multi-user.target waits for the service (Notify=healthy): running means it is ready.
    assert.is(on().state, 'running', 'the machine boots again with no failed unit');
    await assertServing(NAME);
    assert.is(await psql(databaseUrl, 'SELECT count(*) FROM e2e_items'), '1000', 'after a power-off and boot');
    measurements.bootWithServiceMs = on().bootMs.at(-1) as number;
  });
});

test('step 3 (backup): both backup timers are listed with their next run; the backup service takes a pgBackRest backup on the backup volume; a logical dump still works', async () => {
  await step('3', 'backup', { needs: ['2'], units: [SERVICE, BACKUP_SERVICE, BACKUP_TIMER], timeoutMs: 4 * 60_000 }, async () => {
    const timers = await on().must(['systemctl', 'list-timers', '--all', '--no-pager', BACKUP_TIMER, FULL_BACKUP_TIMER]);
    for (const timer of [BACKUP_TIMER, FULL_BACKUP_TIMER]) {
      const line = timers.split('\n').find((l) => l.includes(timer));
      assert.ok(line, `list-timers lists ${timer}:\n${timers}`);
      assert.match(line as string, /^\w{3} \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \w+/, `with its next run: ${line}`);
    }
    const next = (await show(BACKUP_TIMER, ['NextElapseUSecRealtime'])).NextElapseUSecRealtime ?? '';
    assert.match(next, / 03:3\d:\d\d /, `the next run is at 03:30 plus at most the randomized delay: ${next}`);
    assert.match((await show(FULL_BACKUP_TIMER, ['NextElapseUSecRealtime'])).NextElapseUSecRealtime ?? '', /^Sun .* 01:3\d:\d\d /, 'full backups on Sunday at 01:30');

    const started = Date.now();
    await on().must(['systemctl', 'start', BACKUP_SERVICE], { timeoutMs: 180_000 });
    measurements.backupMs = Date.now() - started;
    assert.equal(await show(BACKUP_SERVICE, ['Result']), { Result: 'success' });

    const listed = JSON.parse(await cli(['--config', `${SRV}/poststack.ini`, 'backups', '--json'])) as { backups: Array<{ label: string; type: string }>; recoveryWindow: { from: string | null } };
    assert.is(listed.backups[0]?.type, 'full', 'the first backup is full, whatever the schedule asked');
    assert.ok(listed.recoveryWindow.from, 'a restore can reach back to it');
    const repository = (await on().must(['podman', 'volume', 'inspect', '--format={{.Mountpoint}}', `${NAME}-backups`])).trim();
    await on().must(['test', '-d', `${repository}/pgbackrest/backup/main/${listed.backups[0]?.label}`]);
    const data = (await on().must(['podman', 'volume', 'inspect', '--format={{.Mountpoint}}', `${NAME}-data`])).trim();
    assert.not.ok(repository.startsWith(`${data}/`) || repository === data, 'the backups are not on the data volume');
    await cli(['--config', `${SRV}/poststack.ini`, 'verify']);

    // The logical dump, checked here independently of backup.sh's own checks: its checksums
    // hold and pg_restore reads the dump and finds the table.
    await cli(['--config', `${SRV}/poststack.ini`, 'dump']);
    const dumps = JSON.parse(await cli(['--config', `${SRV}/poststack.ini`, 'dumps', '--json'])) as Array<{ name: string; sizeBytes: number }>;
    const newest = dumps[0]?.name;
    assert.ok(newest && (dumps[0]?.sizeBytes ?? 0) > 0, 'pg-quadlet dumps lists it first');
    await on().must(['sh', '-c', 'cd "$1" && b2sum --check --strict --quiet B2SUMS', 'sh', `${repository}/${newest}`]);
    const contents = await on().must([
      'podman', 'run', '--rm', '--network=none', '--read-only', `--volume=${NAME}-backups:/backups:ro`,
      IMAGE, 'pg_restore', '--list', `/backups/${newest}/database`,
    ], { unit: true, timeoutMs: 60_000 });
    assert.match(contents, /TABLE DATA public e2e_items /, 'the dump holds the table written in step 2');
  });
});

test('step 4 (restore): point-in-time recovery between two commits with pg-quadlet restore --time; a spec-format dump from the host with restore --dump', async () => {
  await step('4', 'restore', { needs: ['3'], units: [SERVICE, BACKUP_SERVICE], timeoutMs: 6 * 60_000 }, async () => {
    const databaseUrl = await url('poststack.ini');
    await psql(databaseUrl, "CREATE TABLE e2e_pitr (note text); INSERT INTO e2e_pitr VALUES ('before')");
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const target = (await psql(databaseUrl, "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00'")).trim();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await psql(databaseUrl, "INSERT INTO e2e_pitr VALUES ('after')");
    // The WAL holding the second commit goes to the archive now, not at archive_timeout.
    await on().must(['podman', 'exec', NAME, 'psql', '--host=/run/postgresql', '--username=postgres', '--dbname=postgres', '-Atc', 'SELECT pg_switch_wal()']);
    const started = Date.now();
    const restored = await cli(['--config', `${SRV}/poststack.ini`, 'restore', '--time', target, '--yes']);
    measurements.pitrRestoreMs = Date.now() - started;
    assert.match(restored, /healthy, out of recovery, taking writes/);
    assert.is(await psql(databaseUrl, 'SELECT string_agg(note, \',\') FROM e2e_pitr'), 'before', 'the first commit is there and the second is not');
    assert.is(await psql(databaseUrl, 'SELECT count(*) FROM e2e_items'), '1000', 'and everything before it');
    assert.is(await psql(databaseUrl, 'SELECT pg_is_in_recovery()'), 'f');
    await psql(databaseUrl, "INSERT INTO e2e_pitr VALUES ('written after the restore')");
    await assertServing(NAME);

    // A file on the host in the spec's format (pg_dump | gzip): copied in, restored, removed.
    const spec = `${SRV}/backup_20260101_020000.sql.gz`;
    await on().must(['sh', '-c', 'set -e; podman exec "$1" pg_dump -U postgres poststack | gzip > "$2"', 'sh', NAME, spec]);
    await psql(databaseUrl, 'DROP TABLE e2e_items');
    await cli(['--config', `${SRV}/poststack.ini`, 'restore', '--dump', spec, '--yes']);
    assert.is(await psql(databaseUrl, 'SELECT count(*) FROM e2e_items'), '1000', 'the table is back from the host file');
    const volume = (await on().must(['podman', 'volume', 'inspect', '--format={{.Mountpoint}}', `${NAME}-backups`])).trim();
    const left = await on().must(['find', volume, '-maxdepth', '1', '-name', '.upload-*']);
    assert.is(left.trim(), '', 'the copy is removed from the backup volume');
    await assertServing(NAME);
  });
});

test('step 5 (TLS): certificates made here; verify-full works with psql and pg, plain TCP is refused', async () => {
  await step('5', 'TLS', { needs: ['1'], units: [`${TLS_NAME}.service`], timeoutMs: 5 * 60_000 }, async () => {
    const started = Date.now();
    await cli(['--config', `${SRV}/tls.ini`, 'install', '--now', '--password-file', `${SRV}/password`]);
    measurements.tlsInstallNowMs = Date.now() - started;
    await assertServing(TLS_NAME);

    const databaseUrl = await url('tls.ini');
    assert.match(databaseUrl, new RegExp(`@${DOMAIN.replace(/\./g, '\\.')}:5433/poststack\\?sslmode=verify-full$`), databaseUrl);
    const verified = `${databaseUrl}&sslrootcert=${SRV}/tls/ca.pem`;
    assert.is(await psql(verified, 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'), 't', 'psql with verify-full');
    const client = await pgClient(verified, 'SELECT 1 AS one');
    assert.equal(client, { ok: true, results: [[{ one: 1 }]], ssl: true }, `pg with verify-full: ${JSON.stringify(client)}`);

    const password = encodeURIComponent(PASSWORD);
    const plain = await on().run(['psql', `postgresql://poststack:${password}@127.0.0.1:5433/poststack?sslmode=disable`, '-XAtc', 'SELECT 1'], { timeoutMs: 30_000 });
    assert.is.not(plain.exitCode, 0, 'plain TCP is refused');
    assert.match(plain.stderr, /no pg_hba\.conf entry .* no encryption/, plain.stderr);
    const plainPg = await pgClient(`postgresql://poststack:${password}@127.0.0.1:5433/poststack?sslmode=disable`);
    assert.equal([plainPg.ok, plainPg.code], [false, '28000'], `pg without TLS: ${JSON.stringify(plainPg)}`);
    // verify-full means the name is checked too: the right CA under another name is refused.
    const wrongName = await on().run(['psql', `postgresql://poststack:${password}@127.0.0.1:5433/poststack?sslmode=verify-full&sslrootcert=${SRV}/tls/ca.pem`, '-XAtc', 'SELECT 1'], { timeoutMs: 30_000 });
    assert.is.not(wrongName.exitCode, 0);
    assert.match(wrongName.stderr, /does not match host name/, wrongName.stderr);

    await cli(['--config', `${SRV}/tls.ini`, 'uninstall', '--purge', '--yes']);
    assert.is.not((await on().run(['podman', 'volume', 'exists', `${TLS_NAME}-data`])).exitCode, 0, 'purged');
  });
});

/** pgbench's per-transaction log: one line per acknowledged transaction, the client id first. */
function ackedPerClient(round: number): Map<number, number> {
  const dir = path.join(runDir, 'srv/bench');
  const counts = new Map<number, number>();
  for (const file of fs.readdirSync(dir).filter((name) => name.startsWith(`round${round}.`))) {
    for (const line of fs.readFileSync(path.join(dir, file), 'utf8').split('\n')) {
      const client = Number(line.split(' ')[0]);
      if (line.trim() !== '' && Number.isInteger(client)) counts.set(client, (counts.get(client) ?? 0) + 1);
    }
  }
  return counts;
}

test('step 6 (crash): kill -9 of the server during pgbench writes, three times: systemd restarts it and every committed transaction is there', async () => {
  await step('6', 'kill -9 during writes', { needs: ['1'], timeoutMs: 5 * 60_000 }, async () => {
    const databaseUrl = await url('poststack.ini');
    await psql(databaseUrl, 'CREATE TABLE e2e_ledger (id bigserial PRIMARY KEY, round int NOT NULL, client int NOT NULL, at timestamptz NOT NULL DEFAULT now())');
    const rounds: Array<{ acked: number; rows: number; recoveryMs: number }> = [];
    for (let round = 1; round <= 3; round++) {
      const restartsBefore = Number((await show(SERVICE, ['NRestarts'])).NRestarts);
      // pgbench from our image, in a container of its own that the kill does not touch; the
      // password comes from the same Podman secret.
      const bench = on().run([
        'podman', 'run', '--rm', `--name=e2e-pgbench-${round}`, '--network=host',
        `--secret=${NAME}-password,type=env,target=PGPASSWORD`, `--volume=${SRV}/bench:/bench`,
        IMAGE, 'pgbench', '--host=127.0.0.1', '--port=5432', '--username=poststack', '--no-vacuum',
        '--client=4', '--time=60', '--file=/bench/insert.sql', `--define=round=${round}`,
        '--log', `--log-prefix=/bench/round${round}`, 'poststack',
      ], { unit: true, timeoutMs: 120_000 });
      await waitFor('pgbench to commit 300 rows', 60_000, async () => {
        const n = Number(await psql(databaseUrl, `SELECT count(*) FROM e2e_ledger WHERE round = ${round}`));
        return n >= 300 ? n : undefined;
      });
      const pid = (await on().must(['podman', 'inspect', '--type=container', '--format={{.State.Pid}}', NAME])).trim();
      const killed = Date.now();
      await on().must(['kill', '-KILL', pid]);
      const benchResult = await bench;
      assert.match(benchResult.stdout + benchResult.stderr, /aborted|terminated|connection/i, `pgbench lost its connections:\n${benchResult.stdout}\n${benchResult.stderr}`);
      await waitFor('systemd to restart the service and the server to be healthy', 90_000, async () => {
        const unit = await show(SERVICE, ['ActiveState', 'NRestarts']);
        if (unit.ActiveState !== 'active' || Number(unit.NRestarts) <= restartsBefore) return undefined;
        return (await health(NAME)) === 'healthy' ? true : undefined;
      });
      const recoveryMs = Date.now() - killed;

      const acked = ackedPerClient(round);
      const rows = new Map<number, number>();
      for (const line of (await psql(databaseUrl, `SELECT client, count(*) FROM e2e_ledger WHERE round = ${round} GROUP BY client`)).split('\n')) {
        const [client, count] = line.split('|').map(Number);
        if (line) rows.set(client as number, count as number);
      }
      for (const [client, n] of acked) {
        const committed = rows.get(client) ?? 0;
        // At most the one transaction in flight at the kill may have committed unacknowledged.
        assert.ok(committed >= n && committed <= n + 1, `round ${round}, client ${client}: pgbench saw ${n} commits, the table has ${committed}`);
      }
      const ackedTotal = [...acked.values()].reduce((a, b) => a + b, 0);
      const rowTotal = [...rows.values()].reduce((a, b) => a + b, 0);
      assert.ok(ackedTotal >= 300, `round ${round}: pgbench logged ${ackedTotal} acknowledged transactions`);
      rounds.push({ acked: ackedTotal, rows: rowTotal, recoveryMs });
    }
    measurements.crashRounds = rounds.map((r) => `${r.acked} acknowledged, ${r.rows} rows, healthy again ${r.recoveryMs} ms after the kill`).join('; ');
  });
});

test('step 7 (status, uninstall, reinstall): status --json is healthy; uninstall keeps the data, and a reinstall finds it', async () => {
  await step('7', 'status, uninstall, reinstall', { needs: ['1'], units: [SERVICE, BACKUP_SERVICE], timeoutMs: 4 * 60_000 }, async () => {
    const status = JSON.parse(await cli(['--config', `${SRV}/poststack.ini`, 'status', '--json'])) as {
      healthy: boolean; problems: string[]; health: string; database: { version: string } | null; timers: Array<{ nextRun: string }>;
    };
    assert.equal(status.problems, [], 'no problems');
    assert.is(status.healthy, true);
    assert.is(status.health, 'healthy');
    assert.match(status.database?.version ?? '', /^15\./);
    assert.ok(status.timers.length === 3 && status.timers.every((timer) => timer.nextRun), 'the two backup timers and the update timer have a next run');

    const databaseUrl = await url('poststack.ini');
    const before = await psql(databaseUrl, 'SELECT (SELECT count(*) FROM e2e_items) || \' \' || (SELECT count(*) FROM e2e_ledger)').catch(() => '');

    await cli(['--config', `${SRV}/poststack.ini`, 'uninstall']);
    assert.is((await on().run(['test', '-e', `/etc/containers/systemd/${NAME}.container`])).exitCode, 1, 'the unit file is gone');
    assert.is((await show(SERVICE, ['LoadState'])).LoadState, 'not-found', 'systemd no longer knows the service');
    for (const volume of [`${NAME}-data`, `${NAME}-backups`]) {
      assert.is((await on().run(['podman', 'volume', 'exists', volume])).exitCode, 0, `${volume} is kept`);
    }
    assert.is((await on().run(['podman', 'secret', 'exists', `${NAME}-password`])).exitCode, 0, 'the secret is kept');

    // No password given: the kept secret is used, and it still matches the kept data.
    const reinstalled = Math.floor(Date.now() / 1000) - 1;
    await cli(['--config', `${SRV}/poststack.ini`, 'install', '--now']);
    await assertServing(NAME);
    assert.not.match(await on().journal([SERVICE], { since: reinstalled, lines: 1000 }), /initializing a new cluster/, 'no new initialization');
    if (before) assert.is(await psql(databaseUrl, 'SELECT (SELECT count(*) FROM e2e_items) || \' \' || (SELECT count(*) FROM e2e_ledger)'), before, 'the data is found again');
    else assert.is(await psql(databaseUrl, 'SELECT current_user'), 'poststack');
  });
});

test('step 8 (rootless): the same with --user, for a user with linger', async () => {
  await step('8', 'rootless', { needs: ['1'], units: [`user@${appUid || 1000}.service`], userUnits: [SERVICE, BACKUP_TIMER], timeoutMs: 6 * 60_000 }, async () => {
    await on().must(['useradd', '--create-home', '--shell=/bin/bash', APP_USER], { unit: true });
    appUid = Number((await on().must(['id', '-u', APP_USER])).trim());
    const as: As = { user: { name: APP_USER, uid: appUid } };
    fs.chownSync(path.join(runDir, 'srv/user-password'), appUid, appUid);
    await on().must(['loginctl', 'enable-linger', APP_USER], { unit: true });
    await waitFor(`user@${appUid}.service`, 30_000, async () =>
      (await on().run(['systemctl', 'is-active', `user@${appUid}.service`])).stdout.trim() === 'active' ? true : undefined);
    // The user's own image store: rootless Podman never sees root's images.
    await on().must(['podman', 'load', '--quiet', '--input', `${SRV}/image.tar`], { ...as, timeoutMs: 180_000 });

    const started = Date.now();
    const installed = await cli(['--user', '--config', `${SRV}/user.ini`, 'install', '--now', '--password-file', `${SRV}/user-password`], as);
    measurements.rootlessInstallNowMs = Date.now() - started;
    assert.not.match(installed, /lingering is off/, 'no linger warning');
    await on().must(['test', '-f', `/home/${APP_USER}/.config/containers/systemd/${NAME}.container`]);
    await assertServing(NAME, as);

    const databaseUrl = await url('user.ini', as);
    assert.match(databaseUrl, /@127\.0\.0\.1:5440\//);
    await psql(databaseUrl, 'CREATE TABLE e2e_user_items AS SELECT generate_series(1, 100) AS id', as);
    measurements.rootlessRestartMs = await timedSystemctl('restart', SERVICE, as);
    await assertServing(NAME, as);
    assert.is(await psql(databaseUrl, 'SELECT count(*) FROM e2e_user_items', as), '100', 'after systemctl --user restart');

    // A backup first: status counts a service with none as not healthy.
    await cli(['--user', '--config', `${SRV}/user.ini`, 'backup'], as);
    const status = JSON.parse(await cli(['--user', '--config', `${SRV}/user.ini`, 'status', '--json'], as)) as { healthy: boolean; problems: string[] };
    assert.equal([status.healthy, status.problems], [true, []], 'status --user --json');

    // Linger: the user's manager starts at boot, and with it the service, with no login.
    await on().reboot();
    await waitFor(`${NAME}.service of ${APP_USER} after the boot`, 90_000, async () =>
      (await on().run(['systemctl', '--user', 'is-active', SERVICE], as)).stdout.trim() === 'active' ? true : undefined);
    await assertServing(NAME, as);
    assert.is(await psql(databaseUrl, 'SELECT count(*) FROM e2e_user_items', as), '100', 'after a power-off and boot');
    // The root service came back too, by itself.
    if (passed.has('1')) await assertServing(NAME);

    await cli(['--user', '--config', `${SRV}/user.ini`, 'uninstall'], as);
    assert.is((await on().run(['podman', 'volume', 'exists', `${NAME}-data`], as)).exitCode, 0, 'the data volume is kept');
    await cli(['--user', '--config', `${SRV}/user.ini`, 'install', '--now'], as);
    assert.is(await psql(databaseUrl, 'SELECT count(*) FROM e2e_user_items', as), '100', 'a reinstall finds the data');
  });
});

test('step 9 (timings): systemctl start to ready, first start (with init) and start with data, repeated', async () => {
  await step('9', 'timings', { needs: ['1'], units: [`${TIMING_NAME}.service`], timeoutMs: 5 * 60_000 }, async () => {
    const rounds = Number(process.env.PG_QUADLET_E2E_TIMING_ROUNDS ?? 3);
    const first: number[] = [];
    const again: number[] = [];
    for (let round = 0; round < rounds; round++) {
      await cli(['--config', `${SRV}/timing.ini`, 'install', '--password-file', `${SRV}/password`]);
      first.push(await timedSystemctl('start', `${TIMING_NAME}.service`));
      await assertServing(TIMING_NAME);
      for (let i = 0; i < 3; i++) {
        await on().must(['systemctl', 'stop', `${TIMING_NAME}.service`], { timeoutMs: 120_000 });
        again.push(await timedSystemctl('start', `${TIMING_NAME}.service`));
        await assertServing(TIMING_NAME);
      }
      await cli(['--config', `${SRV}/timing.ini`, 'uninstall', '--purge', '--yes']);
    }
    measurements.timingFirstStartMs = first;
    measurements.timingStartMs = again;
    await measureFloor();
  });
});

/**
 * What Podman and systemd take on their own, for the start-time goals: a Quadlet unit of our image
 * whose process only waits (and exits 0 at once when stopped), ready when the container runs (Quadlet's default) and ready once a
 * health check of `/bin/true` passes (our units' way), started and restarted three times each.
 */
async function measureFloor(): Promise<void> {
  const units = {
    'e2e-floor': '',
    'e2e-floor-healthy': 'HealthCmd=/bin/true\nHealthStartupCmd=/bin/true\nHealthStartupInterval=1s\nNotify=healthy\n',
  };
  for (const [name, extra] of Object.entries(units)) {
    await on().must(['sh', '-c', `printf '%s' "$1" > /etc/containers/systemd/${name}.container`, 'sh',
      `[Container]\nImage=${IMAGE}\nEntrypoint=/bin/sh\nExec=-c "trap 'exit 0' INT TERM; sleep infinity & wait"\nReadOnly=true\n${extra}`]);
  }
  await on().must(['systemctl', 'daemon-reload']);
  for (const name of Object.keys(units)) {
    const starts: number[] = [];
    const restarts: number[] = [];
    for (let i = 0; i < 3; i++) {
      starts.push(await timedSystemctl('start', `${name}.service`));
      restarts.push(await timedSystemctl('restart', `${name}.service`));
      await on().must(['systemctl', 'stop', `${name}.service`], { timeoutMs: 60_000 });
    }
    measurements[`${name}StartMs`] = starts;
    measurements[`${name}RestartMs`] = restarts;
    await on().must(['rm', `/etc/containers/systemd/${name}.container`]);
  }
  await on().must(['systemctl', 'daemon-reload']);
}

test('step 10 (pool): PgBouncer in its own container on a shared network; clients connect through it', async () => {
  const poolService = `${POOL_NAME}-pool.service`;
  await step('10', 'pool', { needs: ['1'], units: [`${POOL_NAME}.service`, poolService], timeoutMs: 5 * 60_000 }, async () => {
    await cli(['--config', `${SRV}/pool.ini`, 'install', '--now', '--password-file', `${SRV}/password`]);
    await assertServing(POOL_NAME);
    await assertServing(`${POOL_NAME}-pool`);

    const pooled = (await cli(['--config', `${SRV}/pool.ini`, 'url', '--pooled', '--show-password'])).trim();
    assert.match(pooled, /@127\.0\.0\.1:6436\/poststack\?sslmode=disable$/, 'the pooled URL points at PgBouncer');
    assert.is(await psql(pooled, 'SELECT current_user'), 'poststack', 'psql through the pool');
    const client = await pgClient(pooled, 'CREATE TABLE IF NOT EXISTS pooled (n int)', 'INSERT INTO pooled SELECT generate_series(1, 10)', 'SELECT count(*)::int AS n FROM pooled');
    assert.equal(client.results?.at(-1), [{ n: 10 }], `pg through the pool: ${JSON.stringify(client)}`);
    const wrong = await pgClient(pooled.replace(/:\/\/poststack:[^@]*@/, '://poststack:wrong@'), 'SELECT 1');
    // PgBouncer answers a failed SCRAM exchange with 08P01, where PostgreSQL says 28P01.
    assert.equal([wrong.ok, wrong.code, wrong.message], [false, '08P01', 'SASL authentication failed'], `a wrong password is refused by the pool: ${JSON.stringify(wrong)}`);

    const status = JSON.parse(await cli(['--config', `${SRV}/pool.ini`, 'status', '--json'])) as { healthy: boolean; problems: string[]; pool: { serversIdle: number; serversActive: number } | null };
    assert.equal(status.problems, []);
    assert.ok(status.pool, 'status reports the pool');
    assert.ok(status.pool.serversIdle + status.pool.serversActive >= 1, `a server connection is pooled: ${JSON.stringify(status.pool)}`);

    // Stopping PostgreSQL stops the pool; starting it starts the pool again.
    await on().must(['systemctl', 'stop', `${POOL_NAME}.service`], { timeoutMs: 120_000 });
    assert.is((await show(poolService, ['ActiveState'])).ActiveState, 'inactive', 'the pool stops with PostgreSQL, cleanly');
    await timedSystemctl('start', `${POOL_NAME}.service`);
    await waitFor(`${poolService} after starting PostgreSQL`, 60_000, async () => ((await health(`${POOL_NAME}-pool`)) === 'healthy' ? true : undefined));
    assert.is(await psql(pooled, 'SELECT count(*) FROM pooled'), '10', 'through the pool again');

    // Password rotation with the pool on: no restart, the old password refused everywhere, the new
    // one taken directly and through the pool, both health checks still pass, and so does a restart.
    const direct = await url('pool.ini');
    const rotated = await cli(['--config', `${SRV}/pool.ini`, 'password', '--password-file', `${SRV}/new-password`]);
    assert.match(rotated, /changed in the server, the secret and the pool/);
    for (const old of [direct, pooled]) {
      const refused = await on().run(['psql', old, '--no-psqlrc', '--command=SELECT 1']);
      assert.match(refused.stderr, /password authentication failed|SASL authentication failed/, `the old password is refused: ${refused.stderr}`);
    }
    const [newDirect, newPooled] = [await url('pool.ini'), (await cli(['--config', `${SRV}/pool.ini`, 'url', '--pooled', '--show-password'])).trim()];
    assert.ok(newDirect.includes(encodeURIComponent(NEW_PASSWORD)), 'url reads the new secret');
    assert.is(await psql(newDirect, 'SELECT count(*) FROM pooled'), '10', 'the new password directly');
    assert.is(await psql(newPooled, 'SELECT count(*) FROM pooled'), '10', 'and through the pool');
    for (const container of [POOL_NAME, `${POOL_NAME}-pool`]) {
      await on().must(['podman', 'healthcheck', 'run', container]);
    }
    await timedSystemctl('restart', `${POOL_NAME}.service`);
    await waitFor(`${poolService} after the restart`, 60_000, async () => ((await health(`${POOL_NAME}-pool`)) === 'healthy' ? true : undefined));
    assert.is(await psql(newPooled, 'SELECT count(*) FROM pooled'), '10', 'the new password after a restart, from the replaced secret');

    await cli(['--config', `${SRV}/pool.ini`, 'uninstall', '--purge', '--yes']);
  });
});

test('step 11 (changes apply): a re-install restarts onto a new setting and onto TLS; a new schedule is the timer\'s; an identity change is refused, and a start with one fails at once', async () => {
  const service = `${APPLY_NAME}.service`;
  const timer = `${APPLY_NAME}-backup.timer`;
  await step('11', 'changes apply', { needs: ['1'], units: [service, timer], timeoutMs: 8 * 60_000 }, async () => {
    const config = ['--config', `${SRV}/apply.ini`];
    await cli([...config, 'install', '--now', '--password-file', `${SRV}/password`]);
    const databaseUrl = await url('apply.ini');
    await psql(databaseUrl, 'CREATE TABLE kept AS SELECT generate_series(1, 100) AS n');

    // Written but not applied: install and status both say so.
    const written = await cli([...config, '--set', 'maxConnections=150', 'install']);
    assert.match(written, new RegExp(`${service} runs on the units as they were: apply the change with pg-quadlet install --now`));
    const stale = JSON.parse((await on().run([CLI, ...config, '--set', 'maxConnections=150', 'status', '--json'], { unit: true })).stdout) as { healthy: boolean; stale: string[]; drift: Array<{ name: string; live: string }> };
    assert.equal([stale.healthy, stale.stale, stale.drift.map((d) => `${d.name}=${d.live}`)], [false, [service], ['max_connections=100']]);

    await cli([...config, 'backup']);
    const applied = await cli([...config, '--set', 'maxConnections=150', 'install', '--now']);
    assert.match(applied, new RegExp(`Restarted ${service} on the new units: healthy`));
    assert.is(await psql(databaseUrl, 'SHOW max_connections'), '150');
    const fresh = JSON.parse(await cli([...config, '--set', 'maxConnections=150', 'status', '--json'])) as { healthy: boolean; problems: string[] };
    assert.equal(fresh.problems, []);

    // TLS turned on by re-install: plain TCP is refused at once, TLS with the CA works.
    const tls = [...config, '--set', 'maxConnections=150', '--set', `tls.certificatesDir=${SRV}/certs`];
    await on().must([CLI, ...tls, 'install', '--now'], { unit: true, timeoutMs: 330_000, env: { DOMAIN } });
    const plain = await on().run(['psql', databaseUrl, '--no-psqlrc', '--command=SELECT 1']);
    assert.match(plain.stderr, /no encryption/, `plain TCP is refused: ${plain.stderr}`);
    const verified = (await on().must([CLI, ...tls, 'url', '--show-password'], { unit: true, env: { DOMAIN } })).trim();
    assert.is(await psql(`${verified}&sslrootcert=${SRV}/tls/ca.pem`, 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'), 't');

    // A new schedule is the timer's next run, without a restart by hand.
    await on().must([CLI, ...tls, '--set', 'backup.schedule=15 4 * * *', 'install'], { unit: true, env: { DOMAIN } });
    const next = (await show(timer, ['NextElapseUSecRealtime'])).NextElapseUSecRealtime ?? '';
    assert.match(next, / 04:(1[5-9]|2\d):\d\d /, `the timer follows the new schedule: ${next}`);
    // A schedule that is not one is refused before anything is written.
    const never = await on().run([CLI, ...tls, '--set', 'backup.schedule=every day', 'install'], { unit: true, env: { DOMAIN } });
    assert.is(never.exitCode, 2);
    assert.match(never.stderr, /backup\.schedule = "every day": .*neither 5-field cron .* nor a systemd calendar expression/);

    // An identity change is refused with the way forward; forced, the next start fails at once.
    const identity = await on().run([CLI, ...tls, '--set', 'database=otherdb', 'install', '--now'], { unit: true, env: { DOMAIN } });
    assert.is(identity.exitCode, 1);
    assert.match(identity.stderr, /holds a cluster made for database "poststack" owned by "poststack", and the config sets database "otherdb".*ALTER DATABASE poststack RENAME TO otherdb/);
    assert.match(await on().must(['cat', `/etc/containers/systemd/${APPLY_NAME}.container`]), /^Environment=POSTGRES_DB=poststack$/m, 'nothing was written');
    await on().must([CLI, ...tls, '--set', 'database=otherdb', 'install', '--force'], { unit: true, env: { DOMAIN } });
    const started = Date.now();
    const restart = await on().run(['systemctl', 'restart', service], { timeoutMs: 120_000 });
    measurements.identityMismatchFailMs = Date.now() - started;
    assert.is.not(restart.exitCode, 0, 'the start fails');
    assert.ok(Date.now() - started < 30_000, `at once, not at the start timeout (${Date.now() - started} ms)`);
    assert.match(await on().journal([service], { since: Math.floor(started / 1000) - 1 }), /this cluster was made for database 'poststack' owned by 'poststack', but the container is set for database 'otherdb'/);
    await new Promise((resolve) => setTimeout(resolve, 7000));
    const failed = await show(service, ['ActiveState', 'Result', 'NRestarts']);
    assert.equal([failed.ActiveState, failed.Result], ['failed', 'exit-code'], 'failed once, and not restarted over and over');
    await on().must([CLI, ...tls, 'install', '--now'], { unit: true, timeoutMs: 330_000, env: { DOMAIN } });
    assert.is(await psql(`${verified}&sslrootcert=${SRV}/tls/ca.pem`, 'SELECT count(*) FROM kept'), '100', 'back, with its data');

    // A command that needs the running container says so, with the command that starts it.
    await on().must(['systemctl', 'stop', service], { timeoutMs: 120_000 });
    const stopped = await on().run([CLI, ...config, 'backup'], { unit: true });
    assert.is(stopped.exitCode, 1);
    assert.is(stopped.stderr.trim(), `pg-quadlet: ${APPLY_NAME} is not running: start it with systemctl start ${service}`);

    // Defaults follow the target: for Podman 4.6, which cannot wait for health, the units do not.
    await on().must([CLI, ...tls, '--set', 'podmanVersion=4.6', 'install', '--now'], { unit: true, timeoutMs: 330_000, env: { DOMAIN } });
    assert.not.match(await on().must(['cat', `/etc/containers/systemd/${APPLY_NAME}.container`]), /Notify=|--sdnotify/);
    await waitFor(`${APPLY_NAME} healthy on units for Podman 4.6`, 60_000, async () => ((await health(APPLY_NAME)) === 'healthy' ? true : undefined));
    await cli([...config, 'uninstall', '--purge', '--yes']);
  });
});

test('step 12 (off-host copy): backups and WAL reach an S3 store over TLS, encrypted; after a reboot and the loss of both volumes, install and restore --repo 2 bring every archived row back', async () => {
  const service = `${S3_NAME}.service`;
  await step('12', 'off-host copy', { needs: ['1'], units: [service, `${S3_NAME}-backup-full.service`, 'e2e-s3.service'], timeoutMs: 10 * 60_000 }, async () => {
    const config = ['--config', `${SRV}/s3.ini`];
    const keys = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
    await startS3();
    const installed = await cli([...config, 'install', '--now'], {}, { env: keys });
    assert.match(installed, /A backup passphrase was generated and stored in (\S+) \(readable by its owner only\)/);
    const passphraseFile = /stored in (\S+\.passphrase)/.exec(installed)?.[1] ?? '';
    const unit = await on().must(['cat', `/etc/containers/systemd/${S3_NAME}.container`]);
    assert.not.match(unit, /S3RVER/, 'the keys are in no unit');

    const databaseUrl = await url('s3.ini');
    await psql(databaseUrl, "CREATE TABLE e2e_offsite (note text); INSERT INTO e2e_offsite SELECT 'row ' || i FROM generate_series(1, 500) i");
    await on().must(['systemctl', 'start', `${S3_NAME}-backup-full.service`], { timeoutMs: 180_000 });
    const listed = JSON.parse(await cli([...config, 'backups', '--json'])) as { backups: Array<{ repository: number; type: string }> };
    assert.equal(listed.backups.map((b) => [b.repository, b.type]).sort(), [[1, 'full'], [2, 'full']], 'the scheduled full backup went to both repositories');
    assert.ok(listed.backups.length === 2);
    await cli([...config, 'verify']);

    // Written after the backup: only the archived WAL (archiveTimeoutSec = 5) carries it.
    await psql(databaseUrl, "INSERT INTO e2e_offsite VALUES ('last')");
    await waitFor('the last commit archived', 60_000, async () => {
      const row = await psql(databaseUrl, 'SELECT last_archived_time > now() - interval \'1 minute\' AND last_archived_wal >= pg_walfile_name(pg_current_wal_lsn()) FROM pg_stat_archiver');
      return row === 't' ? true : undefined;
    });

    // A reboot; the store is down until started again.
    await on().reboot();
    await assertServing(S3_NAME);
    await startS3();

    // Both volumes lost, and the secrets with them; the passphrase kept off the host, the config kept.
    await on().must(['systemctl', 'stop', service], { timeoutMs: 120_000 });
    await on().must(['podman', 'volume', 'rm', `${S3_NAME}-data`, `${S3_NAME}-backups`]);
    await on().must(['podman', 'secret', 'rm', `${S3_NAME}-backup-passphrase`, `${S3_NAME}-s3-keys`]);
    await on().must(['podman', 'secret', 'create', `${S3_NAME}-backup-passphrase`, passphraseFile]);

    // The drill of docs/runbook.md: install without starting, then restore from the store alone.
    await cli([...config, 'install'], {}, { env: keys });
    const started = Date.now();
    const restored = await cli([...config, 'restore', '--repo', '2', '--latest', '--yes']);
    measurements.offsiteRestoreMs = Date.now() - started;
    assert.match(restored, /healthy, out of recovery, taking writes/);
    assert.is(await psql(databaseUrl, "SELECT count(*) || ' ' || bool_or(note = 'last') FROM e2e_offsite"), '501 true', 'every row, the last commit included');
    await psql(databaseUrl, "INSERT INTO e2e_offsite VALUES ('after the drill')");
    const again = await cli([...config, 'backup', '--type', 'full', '--json']);
    assert.equal((JSON.parse(again) as { backups: Array<{ repo: number }> }).backups.map((b) => b.repo), [1, 2], 'backups go on into both');
    await cli([...config, 'uninstall', '--purge', '--yes']);
    await on().must(['systemctl', 'stop', 'e2e-s3.service']);
  });
});

test('step 13 (update): the update timer\'s service rebuilds the image with current packages and restarts onto it; an image broken on purpose is rolled back, with every row', async () => {
  await step('13', 'update', { needs: ['1'], units: [SERVICE, UPDATE_SERVICE], timeoutMs: 20 * 60_000 }, async () => {
    const config = ['--config', `${SRV}/poststack.ini`];
    const databaseUrl = await url('poststack.ini');
    await psql(databaseUrl, "CREATE TABLE e2e_update (n int); INSERT INTO e2e_update SELECT generate_series(1, 300)");
    const imageId = async (name: string) => (await on().must(['podman', 'image', 'inspect', '--format={{.Id}}', name])).trim();
    const running = async () => (await on().must(['podman', 'inspect', '--type=container', '--format={{.Image}}', NAME])).trim();
    const first = await imageId(IMAGE);

    // As the update timer runs it: its service, with the proxy in the manager's environment (a host
    // behind a proxy sets it so, or in a drop-in).
    const timers = await on().must(['systemctl', 'list-timers', '--all', '--no-pager', UPDATE_TIMER]);
    assert.match(timers, /Tue \d{4}-\d{2}-\d{2} 05:\d{2}:\d{2} UTC/, `list-timers lists ${UPDATE_TIMER} for Tuesday 05:00:\n${timers}`);
    await relayProxy();
    await on().must(['systemctl', 'set-environment', `http_proxy=http://host.containers.internal:${PROXY_PORT}`]);
    const started = Date.now();
    const since = Math.floor(started / 1000) - 1;
    const updated = await on().run(['systemctl', 'start', UPDATE_SERVICE], { timeoutMs: 15 * 60_000 });
    measurements.updateMs = Date.now() - started;
    await on().must(['systemctl', 'unset-environment', 'http_proxy']);
    const said = await on().journal([UPDATE_SERVICE], { since, lines: 400 });
    if (updated.exitCode !== 0) throw new Error(`the update service failed (exit ${updated.exitCode}):\n${said.split('\n').slice(-40).join('\n')}`);
    assert.match(said, /before: PostgreSQL 15\.\S+, PgBouncer 1\.\S+, pgBackRest 2\.\S+ \(\w{12}\)\n.*built:  PostgreSQL 15\.\S+, PgBouncer/);
    assert.match(said, /run the new image, healthy\. The previous one is kept as localhost\/postgres-debian:15-previous\./);
    const second = await imageId(IMAGE);
    assert.is.not(second, first, 'a new image');
    assert.is(await imageId(`${IMAGE}-previous`), first);
    assert.is(await running(), second, 'the service runs it');
    await assertServing(NAME);
    assert.is(await psql(databaseUrl, 'SELECT count(*) FROM e2e_update'), '300');

    // An image whose entrypoint fails at once (SRV/broken): the service must end up on the image it ran.
    const broken = await on().run([CLI, ...config, 'update', '--from', `${SRV}/broken`], { unit: true, timeoutMs: 10 * 60_000 });
    assert.is(broken.exitCode, 1, `${broken.stdout}\n${broken.stderr}`);
    assert.match(broken.stdout, /Rolled back: the new image did not become healthy/);
    assert.match(await on().journal([SERVICE], { lines: 400 }), /broken on purpose/, 'the broken image did run');
    assert.is(await imageId(IMAGE), second, 'the tag is back on the image that worked');
    assert.is(await running(), second);
    await assertServing(NAME);
    assert.is(await psql(databaseUrl, 'SELECT count(*) FROM e2e_update'), '300', 'every row');
    await on().must(['podman', 'image', 'exists', `${IMAGE}-failed`]);
  });
});

test('step 14 (crash loop): a server that fails at every start is restarted a few times, then systemd stops it and status says why', async () => {
  const service = `${LOOP_NAME}.service`;
  await step('14', 'crash loop', { needs: ['1'], units: [service], timeoutMs: 4 * 60_000 }, async () => {
    const config = ['--config', `${SRV}/loop.ini`];
    await on().must(['podman', 'build', '--quiet', `--tag=${BROKEN_IMAGE}`, `${SRV}/broken`], { unit: true, timeoutMs: 120_000 });
    await cli([...config, 'install', '--password-file', `${SRV}/password`]);
    const started = Date.now();
    const start = await on().run(['systemctl', 'start', service], { timeoutMs: 120_000 });
    assert.is.not(start.exitCode, 0, 'the start fails');
    // Between restarts the unit is `activating (auto-restart)`; `failed` is the end of the loop.
    let last: Record<string, string> = {};
    const ended = await waitFor('systemd to stop restarting it', 120_000, async () => {
      last = await show(service, ['LoadState', 'ActiveState', 'Result', 'NRestarts']);
      return last.ActiveState === 'failed' ? last : undefined;
    }).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}: the unit is ${JSON.stringify(last)}; systemctl start said ${start.stderr}`);
    });
    assert.is(ended.NRestarts, '10', 'ended by the start limit (StartLimitBurst=10)');
    assert.match(await on().journal([service], { lines: 400 }), /Start request repeated too quickly/);
    measurements.crashLoopEndedMs = Date.now() - started;
    measurements.crashLoopRestarts = Number(ended.NRestarts);
    const status = await on().run([CLI, ...config, 'status', '--json'], { unit: true });
    assert.is(status.exitCode, 1);
    const problems = (JSON.parse(status.stdout) as { problems: string[] }).problems;
    assert.ok(problems.some((problem) => problem.startsWith(`${service} failed at every start and systemd stopped restarting it after 10 restarts`)), problems.join('\n'));
    assert.match(await on().journal([service], { lines: 400 }), /broken on purpose/);
    await cli([...config, 'uninstall', '--purge', '--yes']);
  });
});

const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return `median ${sorted[Math.floor(sorted.length / 2)]} ms (min ${sorted[0]}, max ${sorted.at(-1)}, n=${sorted.length})`;
};

test('power-off leaves no process, mount or cgroup behind', async () => {
  const dir = runDir;
  await machine?.poweroff();
  machine = undefined;
  if (!dir) return;
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((line) => line.includes(dir));
  assert.equal(mounts, [], 'no mount under the run directory');
  const processes = fs.readdirSync('/proc').filter((pid) => /^\d+$/.test(pid)).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
    } catch {
      return false;
    }
  });
  assert.equal(processes, [], 'no process started for the machine is left');
  const cgroupRoot = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((line) => line.split(' ')).find((f) => f[2] === 'cgroup2')?.[1];
  if (cgroupRoot && machineName) assert.not.ok(fs.existsSync(path.join(cgroupRoot, machineName)), `the machine's cgroup ${machineName} is gone`);
  const first = [measurements.firstStartMs, ...((measurements.timingFirstStartMs as number[] | undefined) ?? [])].filter((v): v is number => typeof v === 'number');
  const again = [...((measurements.startExistingMs as number[] | undefined) ?? []), ...((measurements.timingStartMs as number[] | undefined) ?? [])];
  console.log('  measurements (inside the machine):');
  if (first.length) console.log(`    systemctl start to ready, first start with init: ${stats(first)}; goal ${GOAL_FIRST_START_MS} ms`);
  if (again.length) console.log(`    systemctl start to ready, with data: ${stats(again)}; goal ${GOAL_START_MS} ms`);
  if (measurements.imageBytes) console.log(`    image ${IMAGE}: ${((measurements.imageBytes as number) / 1e6).toFixed(1)} MB`);
  console.log(`    all: ${JSON.stringify(measurements)}`);
});

test.after(async () => {
  await machine?.poweroff();
  machine = undefined;
  if (runDir) fs.rmSync(runDir, { recursive: true, force: true });
});

test.run();
