// The names the units and the image share (lib/core/container-contract.ts) against the image
// itself: the scripts the units run exist where the Containerfile puts them, the scripts' defaults
// are the contract's paths, port, uid and exit status, and every environment variable the units
// set is one the scripts read. The defaults are read by sourcing the scripts in bash, as they run,
// not by pattern; only the Containerfile is read as text. Each check first proves it can fail.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CONTAINER, ENV, EXIT_CONFIG, SCRIPT } from '../../lib/core/container-contract.js';
import { renderUnits, type RenderedUnit } from '../../lib/index.js';

const IMAGE = path.resolve(import.meta.dirname, '../../image');
const SCRIPTS = path.join(IMAGE, 'scripts');
const CONTAINERFILE = fs.readFileSync(path.join(IMAGE, 'Containerfile'), 'utf8').replace(/\\\n/g, ' ');
const scriptFiles = () => fs.readdirSync(SCRIPTS).filter((name) => name.endsWith('.sh')).sort();
const scriptText = () => scriptFiles().map((name) => fs.readFileSync(path.join(SCRIPTS, name), 'utf8')).join('\n');

/** The values of NAMES after sourcing image/scripts/SCRIPT and running SETUP there, with only
 * ENV and PATH in the environment: the script's defaults. */
function sourced(script: string, setup: string, names: string[], env: Record<string, string> = {}): Record<string, string> {
  const print = names.map((name) => `printf '%s\\0' "\${${name}-<unset>}"`).join('; ');
  const result = spawnSync('bash', ['--norc', '--noprofile', '-c', `source "$1"; ${setup}; ${print}`, '_', path.join(SCRIPTS, script)], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', ...env },
    encoding: 'utf8',
  });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`sourcing ${script} and running ${setup} failed (${result.status}): ${result.stderr}`);
  const values = result.stdout.split('\0');
  return Object.fromEntries(names.map((name, i) => [name, values[i] ?? '<missing>']));
}

/** A value the Containerfile sets, by a pattern with one group. */
function containerfile(pattern: RegExp): string {
  return pattern.exec(CONTAINERFILE)?.[1] ?? `<no match for ${pattern}>`;
}

/** What the image holds for each value of the contract, read once. */
const image = (() => {
  let facts: Record<string, string> | undefined;
  return () => {
    if (facts) return facts;
    const lib = sourced('lib.sh', 'pgq_setup_env', ['PGDATA', 'POSTGRES_CERTIFICATES_DIR', 'POSTGRES_INITDB_DIR', 'POSTGRES_PORT', 'PGQ_EXIT_CONFIG']);
    const backup = sourced('backup-lib.sh', 'pgq_backup_setup_env', ['POSTGRES_BACKUP_DIR']);
    const pool = sourced('pool.sh', 'pool_setup_env', ['POOL_PORT'], { POOL_SERVER_HOST: 'db' });
    const entrypoint = sourced('entrypoint.sh', 'true', ['pgq_identity_file']);
    facts = {
      'PGDATA, default in lib.sh': lib.PGDATA ?? '',
      'POSTGRES_CERTIFICATES_DIR, default in lib.sh': lib.POSTGRES_CERTIFICATES_DIR ?? '',
      'POSTGRES_INITDB_DIR, default in lib.sh': lib.POSTGRES_INITDB_DIR ?? '',
      'POSTGRES_PORT, default in lib.sh': lib.POSTGRES_PORT ?? '',
      'PGQ_EXIT_CONFIG in lib.sh': lib.PGQ_EXIT_CONFIG ?? '',
      'POSTGRES_BACKUP_DIR, default in backup-lib.sh': backup.POSTGRES_BACKUP_DIR ?? '',
      'POOL_PORT, default in pool.sh': pool.POOL_PORT ?? '',
      'pgq_identity_file in entrypoint.sh': entrypoint.pgq_identity_file ?? '',
      "the Containerfile's useradd --uid": containerfile(/\buseradd\b[^\n]*?--uid (\d+)/),
      "the Containerfile's groupadd --gid of postgres (the secret's gid= is CONTAINER.uid too)": containerfile(/\bgroupadd\b[^\n&]*?--gid (\d+) postgres\b/),
      "the Containerfile's ENV PGDATA": containerfile(/\bPGDATA=(\S+)/),
      "the Containerfile's EXPOSE": containerfile(/^EXPOSE (\d+)$/m),
      "postgres's home in the Containerfile (useradd --home-dir)": containerfile(/\buseradd\b[^\n]*?--home-dir (\S+)/),
      "where the Containerfile copies scripts/*.sh": containerfile(/^COPY scripts\/\*\.sh (\S+?)\/?$/m),
    };
    return facts;
  };
})();

type Contract = { readonly [K in keyof typeof CONTAINER]: string | number };

/** Where the image disagrees with a contract: one line per value, empty when they agree. */
function disagreements(container: Contract = CONTAINER, exitConfig: number = EXIT_CONFIG, scripts: Record<string, string> = SCRIPT): string[] {
  const scriptDirs = [...new Set(Object.values(scripts).map((file) => path.posix.dirname(file)))];
  const expected: Record<string, string | number> = {
    'PGDATA, default in lib.sh': container.pgdata,
    'POSTGRES_CERTIFICATES_DIR, default in lib.sh': container.certificatesDir,
    'POSTGRES_INITDB_DIR, default in lib.sh': container.initDir,
    'POSTGRES_PORT, default in lib.sh': container.port,
    'PGQ_EXIT_CONFIG in lib.sh': exitConfig,
    'POSTGRES_BACKUP_DIR, default in backup-lib.sh': container.backupDir,
    'POOL_PORT, default in pool.sh': container.poolPort,
    'pgq_identity_file in entrypoint.sh': container.identityFile,
    "the Containerfile's useradd --uid": container.uid,
    "the Containerfile's groupadd --gid of postgres (the secret's gid= is CONTAINER.uid too)": container.uid,
    "the Containerfile's ENV PGDATA": container.pgdata,
    "the Containerfile's EXPOSE": container.port,
    "postgres's home in the Containerfile (useradd --home-dir)": container.dataDir,
    "where the Containerfile copies scripts/*.sh": scriptDirs.length === 1 ? (scriptDirs[0] ?? '') : `several: ${scriptDirs.join(' ')}`,
  };
  return Object.entries(expected)
    .filter(([what, value]) => image()[what] !== String(value))
    .map(([what, value]) => `${what}: the image has '${image()[what]}', the contract '${value}'`);
}

/** Names in SCRIPT with no executable image/scripts/<basename>. */
function missingScripts(scripts: Record<string, string> = SCRIPT): string[] {
  return Object.entries(scripts).filter(([, file]) => {
    const local = path.join(SCRIPTS, path.posix.basename(file));
    return !fs.existsSync(local) || (fs.statSync(local).mode & 0o100) === 0;
  }).map(([name, file]) => `${name}: ${file}`);
}

/** Names in the list that no script reads ($NAME or ${NAME...}). */
function unread(names: readonly string[], text = scriptText()): string[] {
  return names.filter((name) => !new RegExp(`\\$\\{?${name}\\b`).test(text));
}

const environmentNames = (units: RenderedUnit[]) =>
  [...new Set(units.flatMap((unit) => [...unit.content.matchAll(/^Environment=([A-Za-z_][A-Za-z0-9_]*)=/gm)].map((m) => m[1] ?? '')))];
const everyUnit = () => [
  ...renderUnits(),
  ...renderUnits({ pool: { enabled: true }, tls: { domain: 'db.example.com' } }),
  ...renderUnits({ backup: { encrypt: true, s3: { endpoint: 's3.example.com', bucket: 'backups', region: 'eu-central-1', port: 9000, caFile: '/etc/ssl/s3-ca.pem' } } }),
];

test("the scripts' defaults and the Containerfile hold the contract's paths, ports, uid, identity file and exit status", () => {
  assert.equal(disagreements(), []);
});

test('a value that differs from the image is reported, naming where the image holds it', () => {
  assert.equal(disagreements({ ...CONTAINER, pgdata: '/var/lib/postgresql/data' }), [
    "PGDATA, default in lib.sh: the image has '/data/postgres/pgdata', the contract '/var/lib/postgresql/data'",
    "the Containerfile's ENV PGDATA: the image has '/data/postgres/pgdata', the contract '/var/lib/postgresql/data'",
  ]);
  assert.equal(disagreements({ ...CONTAINER, uid: 1000 }).length, 2, 'useradd and groupadd');
  assert.equal(disagreements(CONTAINER, 75), ["PGQ_EXIT_CONFIG in lib.sh: the image has '78', the contract '75'"]);
  assert.equal(disagreements(CONTAINER, EXIT_CONFIG, { ...SCRIPT, pool: '/usr/bin/pool.sh' }), [
    "where the Containerfile copies scripts/*.sh: the image has '/usr/local/bin', the contract 'several: /usr/local/bin /usr/bin'",
  ]);
});

test('every script the units and commands run is an executable file in image/scripts, and the only others are sourced by them', () => {
  assert.equal(missingScripts(), []);
  assert.equal(missingScripts({ ...SCRIPT, reload: '/usr/local/bin/pool-reload.sh' }), ['reload: /usr/local/bin/pool-reload.sh'], 'a missing script is reported');
  const run = new Set(Object.values(SCRIPT).map((file) => path.posix.basename(file)));
  const sourcedByOthers = new Set([...scriptText().matchAll(/^\s*source "\$\{BASH_SOURCE\[0\]%\/\*\}\/([\w.-]+)"/gm)].map((m) => m[1]));
  assert.equal(scriptFiles().filter((name) => !run.has(name) && !sourcedByOthers.has(name)), [], 'a script nothing runs is a stale name');
});

test('every environment variable of the contract is read by the scripts', () => {
  assert.equal(unread(Object.values(ENV)), []);
  assert.equal(unread(['POSTGRES_DB', 'POSTGRES_NOT_READ']), ['POSTGRES_NOT_READ'], 'an unread name is reported');
  assert.equal(unread(['POSTGRES_DB'], 'echo "$POSTGRES_DBX"'), ['POSTGRES_DB'], 'a longer name is not the name');
});

test('the units set only the environment of the contract, and all of it (default config, and the pool with TLS)', () => {
  const rendered = environmentNames(everyUnit());
  const contract = Object.values(ENV) as string[];
  assert.equal(rendered.filter((name) => !contract.includes(name)), [], 'a name the units set that the contract lacks');
  assert.equal(contract.filter((name) => !rendered.includes(name)), [], 'a name of the contract no unit sets');
  assert.equal(environmentNames([{ fileName: 'x.container', unitName: 'x.service', target: 'quadlet', content: 'Environment=TZ=UTC\nEnvironment=POSTGRES_DB=x\n' }]), ['TZ', 'POSTGRES_DB'], 'the names are read from the lines');
});

test('the scripts the units name are the contract\'s, and the secret is mounted where POSTGRES_PASSWORD_FILE points', () => {
  const units = everyUnit();
  const named = [...new Set(units.flatMap((unit) => [...unit.content.matchAll(/\/usr\/local\/bin\/[\w.-]+/g)].map((m) => m[0])))];
  assert.ok(named.length >= 4, named.join(' '));
  assert.equal(named.filter((file) => !(Object.values(SCRIPT) as string[]).includes(file)), []);
  for (const unit of units.filter((u) => u.fileName.endsWith('.container'))) {
    const target = /^Secret=[^,\n]+,type=mount,target=([^,\n]+),uid=(\d+),gid=(\d+),/m.exec(unit.content);
    assert.ok(target, `${unit.fileName} mounts the password secret`);
    assert.is(`/run/secrets/${target?.[1]}`, CONTAINER.passwordFile, unit.fileName);
    assert.equal([target?.[2], target?.[3]], [String(CONTAINER.uid), String(CONTAINER.uid)], `${unit.fileName}: readable by the image's postgres`);
    assert.match(unit.content, new RegExp(`^Environment=${ENV.passwordFile}=${CONTAINER.passwordFile}$`, 'm'));
  }
  const server = units.find((unit) => unit.fileName === 'poststack-postgres.container')?.content ?? '';
  assert.match(server, new RegExp(`^RestartPreventExitStatus=${EXIT_CONFIG}$`, 'm'));
});

test("the contract's directories nest as the Containerfile makes them", () => {
  assert.ok(CONTAINER.pgdata.startsWith(`${CONTAINER.dataDir}/`));
  assert.ok(CONTAINER.backupDir.startsWith(`${CONTAINER.dataDir}/`));
  const made = [...CONTAINERFILE.matchAll(/\binstall -d\b([^&\n]*)/g)].flatMap((m) => (m[1] ?? '').split(/\s+/).filter((word) => word.startsWith('/')));
  for (const dir of [CONTAINER.dataDir, CONTAINER.pgdata, CONTAINER.backupDir, CONTAINER.certificatesDir, CONTAINER.initDir]) {
    assert.ok(made.includes(dir), `the Containerfile makes ${dir} (it makes ${made.join(' ')})`);
  }
});

test.run();
