// pg-quadlet password: the order of the steps, the password only ever on standard input, and every
// step put back when a later one fails. First on a recording stand-in for podman; then with the
// image's real password.sh and pool.sh in a sandbox (a real PostgreSQL and a real PgBouncer),
// where only podman's plumbing (exec, secrets) is stood in for.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatPassword, password, type PasswordOptions } from '../../lib/commands/password.js';
import { contextFor } from '../../lib/context.js';
import type { CommandResult, Runner, RunOptions } from '../../lib/host/runner.js';
import { isPgQuadletError, resolveConfig, SCRIPT, type PostgresServiceInput } from '../../lib/index.js';
import { connectError, sandboxMissing, withSandbox, type Sandbox } from '../image/sandbox.js';
import { poolMissing, startPool, type Pool } from '../pool/pool.js';
import { FakeHost, ok } from '../support/fake-host.js';
import { skipUnless } from '../support/skip.js';

const OLD = 'the old password';
const NEW = `a new one: it's "quoted" $x \\ ü`;

function setup(input: PostgresServiceInput = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-quadlet-password-'));
  const config = resolveConfig(input);
  const host = new FakeHost().running(`${config.name}.service`, ...(config.pool.enabled ? [`${config.name}-pool.service`] : []));
  host.secrets.set(config.passwordSecret, OLD);
  host.execs.set(SCRIPT.password, ok('', 'password: the password of role poststack is changed'));
  host.execs.set(`${SCRIPT.pool} reload`, ok('', 'pool: PgBouncer reloaded'));
  const context = contextFor(config, { runner: host, root, env: { HOME: '/home/ann' } });
  const run = (options: PasswordOptions = {}) => password(context, options);
  return { root, config, host, context, run };
}

const recorded = suite('password on a recorded host');

recorded('server, secret, file, then pool; the password only on standard input; the generated one stored and shown once', async () => {
  const { host, context, run } = setup({ pool: { enabled: true } });
  const file = path.join(context.paths.stateDir, 'poststack-postgres-password.password');
  const result = await run();
  const value = result.generatedPassword?.value ?? '';
  assert.ok(value.length >= 32);
  assert.equal(host.mutatingCalls(), [
    'podman exec --interactive poststack-postgres /usr/local/bin/password.sh',
    'podman secret create --replace poststack-postgres-password -',
    'podman exec --interactive poststack-postgres-pool /usr/local/bin/pool.sh reload',
  ]);
  for (const call of host.calls) assert.not.ok(call.command.includes(value), `not an argument of ${call.command}`);
  assert.equal(host.calls.filter((call) => call.input !== undefined).map((call) => call.input), [value, value, value]);
  assert.is(host.secrets.get('poststack-postgres-password'), value);
  assert.is(fs.readFileSync(file, 'utf8'), `${value}\n`);
  assert.is(fs.statSync(file).mode & 0o777, 0o600);
  assert.ok(result.pool);
  assert.match(formatPassword(result), /changed in the server, the secret and the pool; open sessions carry on[\s\S]*shown this once: /);
});

recorded('a given password leaves no file behind unless one was there; a stopped pool is left to read the secret at its start', async () => {
  const { root, host, run } = setup({ pool: { enabled: true } });
  host.active.delete('poststack-postgres-pool.service');
  const result = await run({ password: { kind: 'value', value: NEW } });
  assert.equal([result.generatedPassword, result.pool], [undefined, false]);
  assert.is(host.secrets.get('poststack-postgres-password'), NEW);
  assert.not.ok(host.calls.some((call) => call.command.includes('pool.sh')));
  assert.equal(fs.readdirSync(root), [], 'no password file');
});

for (const [failing, undone] of [
  ['podman exec --interactive poststack-postgres /', [] as string[]],
  ['podman secret create', ['server']],
  ['podman exec --interactive poststack-postgres-pool', ['server', 'secret']],
] as const) {
  recorded(`a failure at "${failing}" puts back every step before it, and the old password is everywhere again`, async () => {
    const { host, context, run } = setup({ pool: { enabled: true } });
    const file = path.join(context.paths.stateDir, 'poststack-postgres-password.password');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${OLD}\n`, { mode: 0o600 });
    host.failures.set(failing, 'Error: it broke here');
    const error = await run({ password: { kind: 'value', value: NEW } }).then(() => undefined, (e: unknown) => e);
    assert.ok(isPgQuadletError(error, 'PG_QUADLET_COMMAND'), String(error));
    assert.match((error as Error).message, /^the password was not changed \(.*it broke here\); the old password works everywhere again$/);
    host.failures.clear();
    assert.is(host.secrets.get('poststack-postgres-password'), OLD, 'the secret holds the old password');
    assert.is(fs.readFileSync(file, 'utf8'), `${OLD}\n`, 'so does the file');
    const putBack = host.calls.filter((call) => call.input === OLD).map((call) => (call.command.includes('pool.sh') ? 'pool' : call.command.includes('secret') ? 'secret' : 'server'));
    assert.equal(putBack.sort(), [...undone].sort(), 'each changed place got the old password back');
  });
}

recorded('--dry-run lists the steps and changes nothing, not even reading the secret', async () => {
  const { host, run } = setup();
  const result = await run({ dryRun: true });
  assert.equal(result.actions, [
    'podman exec --interactive poststack-postgres /usr/local/bin/password.sh (the password on standard input) (ALTER ROLE over the socket)',
    'podman secret create --replace poststack-postgres-password - (the password on standard input)',
    'store the new password in ' + path.join(resultRoot(result), 'poststack-postgres-password.password') + ' (mode 0600)',
  ]);
  assert.equal(host.mutatingCalls(), []);
  assert.not.ok(host.calls.some((call) => call.command.includes('--showsecret')));
});

/** The state directory named in a dry run's file step. */
function resultRoot(result: { actions: string[] }): string {
  return path.dirname(/store the new password in (\S+)/.exec(result.actions.join('\n'))?.[1] ?? '');
}

recorded('a stopped service is said in one line, with the command that starts it', async () => {
  const { host, run } = setup();
  host.active.clear();
  const error = await run().then(() => undefined, (e: Error) => e);
  assert.is(error?.message, 'poststack-postgres is not running: start it with systemctl start poststack-postgres.service');
  assert.equal(host.mutatingCalls(), []);
});

recorded.run();

// ---------------------------------------------------------------------------------------------

/** podman's plumbing over a sandbox: `exec -i` of the two scripts runs the real ones (the server's
 * and the pool's, each with its environment), secrets live in a map, both containers run. */
function sandboxRunner(box: Sandbox, pool: Pool, secrets: Map<string, string>, failAt?: string): Runner {
  return {
    async run(file: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
      const command = [file, ...args].join(' ');
      if (failAt && command.startsWith(failAt)) return { exitCode: 125, stdout: '', stderr: 'Error: failing here on purpose' };
      if (args[0] === 'inspect') return ok('true');
      if (args[0] === 'secret' && args[1] === 'inspect') return ok(secrets.get(args.at(-1) ?? '') ?? '');
      if (args[0] === 'secret' && args[1] === 'create') {
        secrets.set(args.at(-2) ?? '', options.input ?? '');
        return ok('');
      }
      if (args[0] === 'exec' && args[3] === SCRIPT.password) {
        const result = await box.runAsPostgres(path.join(box.paths.scripts, 'password.sh'), [], { input: options.input ?? '' });
        return { exitCode: result.exitCode ?? 1, stdout: String(result.stdout), stderr: String(result.stderr) };
      }
      if (args[0] === 'exec' && args[3] === SCRIPT.pool && args[4] === 'reload') {
        const result = await box.runAsPostgres(path.join(box.paths.scripts, 'pool.sh'), ['reload'], { env: pool.env, input: options.input ?? '' });
        return { exitCode: result.exitCode ?? 1, stdout: String(result.stdout), stderr: String(result.stderr) };
      }
      return { exitCode: 125, stdout: '', stderr: `not stood in for: ${command}` };
    },
  };
}

const live = skipUnless(suite('password against a real PostgreSQL and PgBouncer'), sandboxMissing() ?? poolMissing(), 'PostgreSQL 15 and PgBouncer');

async function withPool(body: (box: Sandbox, pool: Pool, secrets: Map<string, string>) => Promise<void>): Promise<void> {
  await withSandbox(async (box) => {
    await box.startReady();
    const pool = await startPool(box);
    await body(box, pool, new Map([['poststack-postgres-password', box.password]]));
  });
}

live('the old password stops working and the new one works, directly and through the pool; sessions already open carry on', async () => {
  await withPool(async (box, pool, secrets) => {
    const direct = await box.connect();
    const pooled = await box.connect({ port: pool.port });
    const context = contextFor(resolveConfig({ pool: { enabled: true } }), { runner: sandboxRunner(box, pool, secrets), root: box.dir });
    await password(context, { password: { kind: 'value', value: NEW } });
    assert.is(secrets.get('poststack-postgres-password'), NEW);
    assert.is(await connectError(box), '28P01', 'the old password is refused by the server');
    assert.is(await connectError(box, { port: pool.port }), '08P01', 'and by the pool');
    assert.is(await connectError(box, { password: NEW }), 'connected', 'the new one works directly');
    assert.is(await connectError(box, { port: pool.port, password: NEW }), 'connected', 'and through the pool');
    assert.equal((await direct.query('SELECT 1 AS n')).rows, [{ n: 1 }], 'a direct session carries on');
    assert.equal((await pooled.query('SELECT 2 AS n')).rows, [{ n: 2 }], 'a pooled session carries on');
    await Promise.all([direct.end(), pooled.end()]);
    assert.ok(await box.healthy(), "the server's health check follows");
  });
});

for (const failAt of ['podman secret create', 'podman exec --interactive poststack-postgres-pool']) {
  live(`a failure at "${failAt}" leaves the old password working everywhere`, async () => {
    await withPool(async (box, pool, secrets) => {
      const context = contextFor(resolveConfig({ pool: { enabled: true } }), { runner: sandboxRunner(box, pool, secrets, failAt), root: box.dir });
      const error = await password(context, { password: { kind: 'value', value: NEW } }).then(() => undefined, (e: Error) => e);
      assert.match(error?.message ?? '', /the password was not changed .*failing here on purpose.*; the old password works everywhere again/);
      assert.is(secrets.get('poststack-postgres-password'), box.password, 'the secret');
      assert.is(await connectError(box), 'connected', 'directly');
      assert.is(await connectError(box, { port: pool.port }), 'connected', 'through the pool');
      assert.is(await connectError(box, { password: NEW }), '28P01', 'the new one is not taken');
      assert.ok(await box.healthy(), 'the health check');
    });
  });
}

live.run();
