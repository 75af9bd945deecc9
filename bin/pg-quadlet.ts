#!/usr/bin/env node
// The command line: wiring only. Each handler makes the context, calls the library's command,
// prints its result (JSON, or the command's own text for people) and sets the exit code. Command
// modules are imported on demand, so a command loads only what it needs.
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { Context } from '../lib/context.js';
import type { PasswordSource } from '../lib/commands/install.js';
import { EXIT, fail } from './cli-output.js';

interface GlobalArgs {
  config?: string | undefined;
  set?: string[] | undefined;
  user?: boolean | undefined;
  root?: string | undefined;
  verbose?: boolean | undefined;
  json?: boolean | undefined;
}

const out = (text: string): void => {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
};
const note = (text: string): void => {
  process.stderr.write(`${text}\n`);
};

async function context(argv: GlobalArgs): Promise<Context> {
  const { createContext } = await import('../lib/context.js');
  const { realpathSync } = await import('node:fs');
  return createContext({
    // The update timer runs this same pg-quadlet, wherever npm put it.
    ...(process.argv[1] ? { pgQuadlet: [process.execPath, realpathSync(process.argv[1])] } : {}),
    ...(argv.config ? { configFile: argv.config } : {}),
    ...(argv.set ? { sets: argv.set } : {}),
    ...(argv.user ? { user: true } : {}),
    ...(argv.root ? { root: argv.root } : {}),
    ...(argv.verbose ? { log: note } : {}),
  });
}

/** Prints a command's result: JSON for scripts, else its text; `failed` says when to exit 1. */
function report<R>(argv: GlobalArgs, result: R, format: (result: R) => string, failed?: (result: R) => boolean): void {
  out(argv.json ? JSON.stringify(result, null, 2) : format(result));
  if (failed?.(result)) process.exitCode = EXIT.failure;
}

/** Progress for people on standard error; none with --json, whose output is for scripts. */
const progress = (argv: GlobalArgs) => (argv.json ? {} : { onProgress: (line: string) => note(`... ${line}`) });

const withJson = <T>(command: Argv<T>) => command.option('json', { type: 'boolean', default: false, describe: 'Print JSON for scripts' });

const withPassword = <T>(command: Argv<T>) =>
  command
    .option('password-file', { type: 'string', describe: 'Take the password from this file' })
    .option('password-stdin', { type: 'boolean', default: false, describe: 'Take the password from standard input' });

async function readPassword(argv: { 'password-file'?: string | undefined; 'password-stdin'?: boolean | undefined }): Promise<{ password?: PasswordSource }> {
  const { readFileSync } = await import('node:fs');
  const { RefusedError } = await import('../lib/core/errors.js');
  if (argv['password-file'] && argv['password-stdin']) throw new RefusedError('give --password-file or --password-stdin, not both');
  const raw = argv['password-file'] ? readFileSync(argv['password-file'], 'utf8') : argv['password-stdin'] ? readFileSync(0, 'utf8') : undefined;
  if (raw === undefined) return {};
  const value = raw.replace(/\r?\n$/, '');
  if (value === '') throw new RefusedError(`the password given is empty${argv['password-file'] ? ` (${argv['password-file']})` : ''}`);
  return { password: { kind: 'value', value } };
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const { createInterface } = await import('node:readline/promises');
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await prompt.question(`${question} [y/N] `)).trim());
  } finally {
    prompt.close();
  }
}

await yargs(hideBin(process.argv))
  .scriptName('pg-quadlet')
  .usage('$0 <command> [options]\n\nRun PostgreSQL on one host with Podman Quadlet and systemd.')
  .option('config', { type: 'string', describe: 'Config file (INI, or .json); default: ./pg-quadlet.ini, then /etc/pg-quadlet/config.ini (~/.config/pg-quadlet/config.ini with --user)' })
  .option('set', { type: 'string', array: true, nargs: 1, describe: 'Set a config field, over the file and the environment (repeat for more): --set maxConnections=200' })
  .option('user', { type: 'boolean', default: false, describe: "Work with the current user's systemd (rootless) instead of the system's" })
  .option('root', { type: 'string', describe: 'Install under this directory instead of / (packaging, tests)' })
  .option('verbose', { type: 'boolean', default: false, describe: 'Show every command run, and all of a failure' })
  .command(
    'render',
    'Print or write the unit files for the config',
    (command) =>
      withJson(command)
        .option('out', { type: 'string', describe: 'Write the files into this directory instead of printing them' })
        .example('$0 render', 'Print every unit of the config')
        .example('$0 render --out ./units', 'Write them into ./units')
        .example('$0 render --json | jq -r ".[].fileName"', 'List the file names'),
    async (argv) => {
      const { render, formatRender } = await import('../lib/commands/render.js');
      report(argv, await render(await context(argv), argv.out ? { outDir: argv.out } : {}), formatRender);
    },
  )
  .command(
    'config',
    'Print the effective config and where each value came from',
    (command) => withJson(command).example('$0 config --set port=6543', 'Show the config with one field overridden'),
    async (argv) => {
      const { config, formatConfig } = await import('../lib/commands/config.js');
      report(argv, await config(await context(argv)), formatConfig);
    },
  )
  .command(
    'schema',
    'Print the JSON Schema of the config (for editors; also shipped as docs/config.schema.json)',
    (command) => command.example('$0 schema > pg-quadlet.schema.json', 'Save it for an editor'),
    async (argv) => {
      const { schema, formatSchema } = await import('../lib/commands/schema.js');
      report(argv, await schema(), formatSchema);
    },
  )
  .command(
    'install',
    'Install the units into systemd, create the password secret, reload, enable the backup timer',
    (command) =>
      withPassword(withJson(command))
        .option('now', { type: 'boolean', default: false, describe: 'Also start PostgreSQL and wait until it is healthy; restart what runs on changed units' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'Print every action and change nothing' })
        .option('force', { type: 'boolean', default: false, describe: 'Replace unit files pg-quadlet did not generate; accept a database or role renamed in the cluster' })
        .option('build', { type: 'boolean', default: true, describe: 'Build a missing localhost/ image from the image/ folder shipped in the package (--no-build refuses instead)' })
        .example('$0 install --now', 'Install and start; a strong password is generated and shown once')
        .example('$0 install --set build.baseImage=registry.example/debian:bookworm-slim', 'Build the image from a mirror of the base image')
        .example('$0 install --user --password-file ~/pg.pass', 'Install rootless, with your own password')
        .example('$0 install --set maxConnections=200 --now', 'Change a setting and restart onto it')
        .example('$0 install --dry-run', 'Show what would change, and the diff'),
    async (argv) => {
      const { install, formatInstall } = await import('../lib/commands/install.js');
      const options = { dryRun: argv['dry-run'], force: argv.force, now: argv.now, build: argv.build, ...(await readPassword(argv)), ...progress(argv) };
      report(argv, await install(await context(argv), options), formatInstall);
    },
  )
  .command(
    'image <action>',
    "Build the service's image from the image/ folder shipped in the package (install does it when the image is missing)",
    (command) =>
      withJson(command)
        .positional('action', { choices: ['build'] as const, describe: 'build' })
        .option('pull', { type: 'boolean', default: false, describe: 'Ask the registry for a newer base image first (the local one is used when it cannot be reached)' })
        .option('from', { type: 'string', describe: 'Build from this directory instead of the shipped image/ (a customized copy)' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'Print the build command and change nothing' })
        .example('$0 image build', 'Build localhost/postgres-debian:15')
        .example('$0 image build --set build.baseImage=localhost/debian:bookworm-slim --set build.certGroupGid=990', 'From a local base image, with the GID of the group that reads the TLS keys'),
    async (argv) => {
      const { imageBuild, formatImageBuild } = await import('../lib/commands/image.js');
      const options = { pull: argv.pull, dryRun: argv['dry-run'], ...(argv.from ? { from: argv.from } : {}), ...progress(argv) };
      report(argv, await imageBuild(await context(argv), options), formatImageBuild);
    },
  )
  .command(
    'update',
    "Rebuild the image with Debian's current packages and restart onto it; roll back to the previous image if it does not become healthy",
    (command) =>
      withJson(command)
        .option('from', { type: 'string', describe: 'Build from this directory instead of the shipped image/ (a customized copy)' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'Print every action and change nothing' })
        .example('$0 update', 'Security updates: rebuild, restart, report the versions before and after')
        .example('$0 update --dry-run', 'Show the build and restart it would run'),
    async (argv) => {
      const { update, formatUpdate } = await import('../lib/commands/update.js');
      const options = { dryRun: argv['dry-run'], ...(argv.from ? { from: argv.from } : {}), ...progress(argv) };
      report(argv, await update(await context(argv), options), formatUpdate, (result) => result.rolledBack !== undefined);
    },
  )
  .command(
    'uninstall',
    'Stop and remove the units; keep the data, backups and secret unless --purge',
    (command) =>
      withJson(command)
        .option('purge', { type: 'boolean', default: false, describe: 'Also delete the data volume, the backup volume and the secret' })
        .option('yes', { type: 'boolean', default: false, describe: 'Do not ask before purging (for scripts)' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'Print every action and change nothing' })
        .example('$0 uninstall', 'Remove the service; a later install finds the data again')
        .example('$0 uninstall --purge --yes', 'Remove everything, the data included'),
    async (argv) => {
      const { uninstall, formatUninstall } = await import('../lib/commands/uninstall.js');
      const options = { purge: argv.purge, yes: argv.yes, dryRun: argv['dry-run'], confirm, ...progress(argv) };
      report(argv, await uninstall(await context(argv), options), formatUninstall);
    },
  )
  .command(
    'status',
    'Report the units, health, backup timer and the database itself; exit 1 when something is wrong',
    (command) => withJson(command).example('$0 status --json | jq .healthy', 'Check from a script'),
    async (argv) => {
      const { status, formatStatus } = await import('../lib/commands/status.js');
      report(argv, await status(await context(argv)), formatStatus, (result) => !result.healthy);
    },
  )
  .command(
    'url',
    "Print the connection string (Poststack's DATABASE_URL)",
    (command) =>
      withJson(command)
        .option('show-password', { type: 'boolean', default: false, describe: 'Include the real password (read from the Podman secret)' })
        .option('pooled', { type: 'boolean', default: false, describe: 'Connect through PgBouncer (pool.enabled)' })
        .example('$0 url', 'postgresql://poststack:***@127.0.0.1:5432/poststack?sslmode=disable')
        .example('export DATABASE_URL="$($0 url --show-password)"', 'Hand it to an application')
        .example('$0 url --pooled', 'The same through PgBouncer'),
    async (argv) => {
      const { url, formatUrl } = await import('../lib/commands/url.js');
      report(argv, await url(await context(argv), { showPassword: argv['show-password'], pooled: argv.pooled }), formatUrl);
    },
  )
  .command(
    'password',
    "Rotate the role's password: in the server, the Podman secret and the pool, without a restart",
    (command) =>
      withPassword(withJson(command))
        .option('dry-run', { type: 'boolean', default: false, describe: 'Print every action and change nothing' })
        .example('$0 password', 'Generate a new password, set it everywhere and show it once')
        .example('$0 password --password-file new.pass', 'Set your own'),
    async (argv) => {
      const { password, formatPassword } = await import('../lib/commands/password.js');
      const options = { dryRun: argv['dry-run'], ...(await readPassword(argv)), ...progress(argv) };
      report(argv, await password(await context(argv), options), formatPassword);
    },
  )
  .command(
    'backup',
    'Take a pgBackRest backup now, in the running container, as the backup timers do',
    (command) =>
      withJson(command)
        .option('type', { choices: ['full', 'diff', 'incr'] as const, describe: "full, diff or incr; the config's backup.type when not given" })
        .example('$0 backup', 'A backup of the scheduled type (the first one is full)')
        .example('$0 backup --type full', 'A full backup'),
    async (argv) => {
      const { backup, formatBackup } = await import('../lib/commands/backup.js');
      report(argv, await backup(await context(argv), { ...(argv.type ? { type: argv.type } : {}), ...progress(argv) }), formatBackup);
    },
  )
  .command(
    'backups',
    'List the pgBackRest backups, newest first, and the window a restore can reach',
    (command) => withJson(command).example('$0 backups --json | jq -r ".backups[0].label"', 'The newest backup'),
    async (argv) => {
      const { backups, formatBackups } = await import('../lib/commands/backups.js');
      report(argv, await backups(await context(argv)), formatBackups);
    },
  )
  .command(
    'verify',
    'Check every backup and archived WAL file in the repository against its checksum',
    (command) => withJson(command).example('$0 verify', 'Fails, naming the file, when one is damaged'),
    async (argv) => {
      const { verify, formatVerify } = await import('../lib/commands/verify.js');
      report(argv, await verify(await context(argv), progress(argv)), formatVerify);
    },
  )
  .command(
    'dump',
    'Take a logical dump now (pg_dump, portable across major versions) into the backup volume',
    (command) => withJson(command).example('$0 dump', 'Dump the database and its roles'),
    async (argv) => {
      const { dump, formatDump } = await import('../lib/commands/dump.js');
      report(argv, await dump(await context(argv)), formatDump);
    },
  )
  .command(
    'dumps',
    'List the logical dumps in the backup volume, newest first, with age and size',
    (command) => withJson(command).example('$0 dumps --json | jq -r ".[0].name"', 'The newest dump'),
    async (argv) => {
      const { dumps, formatDumps } = await import('../lib/commands/dumps.js');
      report(argv, await dumps(await context(argv)), formatDumps);
    },
  )
  .command(
    'restore',
    'Restore from a pgBackRest backup (to the latest change or a point in time), or from a logical dump',
    (command) =>
      withJson(command)
        .option('latest', { type: 'boolean', default: false, describe: 'The newest backup and every archived change after it' })
        .option('time', { type: 'string', describe: "The state at this time: 'YYYY-MM-DD HH:MM:SS+00'" })
        .option('backup', { type: 'string', describe: 'This backup (a label from pg-quadlet backups); with --latest or --time, the changes after it too' })
        .option('repo', { type: 'number', choices: [1, 2], describe: 'From this repository only: 1 the backup volume, 2 the off-host one (backup.s3)' })
        .option('discard-current', { type: 'boolean', default: false, describe: 'Do not keep the data directory as it was (it is kept until the restore works)' })
        .option('dump', { type: 'string', describe: 'A logical dump instead: a name from pg-quadlet dumps, or a dump directory or *.sql.gz on this host' })
        .option('yes', { type: 'boolean', default: false, describe: 'Do not ask before restoring (for scripts)' })
        .example('$0 restore --latest', 'Everything up to the last archived change, after asking')
        .example("$0 restore --time '2026-11-29 10:15:00+00' --yes", 'The database as it was at that moment')
        .example('$0 restore --repo 2 --latest', 'From the off-host copy alone, after losing both volumes (docs/runbook.md)')
        .example('$0 restore --dump ./backup_20260101_020000.sql.gz', "A file from this host, such as the spec's pg_dump | gzip")
        .check((argv) => {
          const physical = argv.latest || argv.time !== undefined || argv.backup !== undefined;
          if (physical === (argv.dump !== undefined)) return 'give --latest, --time TIME or --backup LABEL (pgBackRest), or --dump NAME|FILE (a logical dump)';
          return !(argv.latest && argv.time !== undefined) || '--latest and --time are two different points: give one';
        }),
    async (argv) => {
      const { restore, formatRestore } = await import('../lib/commands/restore.js');
      const options = {
        latest: argv.latest,
        ...(argv.time ? { time: argv.time } : {}),
        ...(argv.backup ? { backup: argv.backup } : {}),
        ...(argv.dump ? { dump: argv.dump } : {}),
        ...(argv.repo === undefined ? {} : { repo: argv.repo }),
        discardCurrent: argv['discard-current'],
        yes: argv.yes,
        confirm,
        onProgress: note,
      };
      report(argv, await restore(await context(argv), options), formatRestore);
    },
  )
  .demandCommand(1, 'Give a command: see the list above.')
  .strict()
  .help()
  .alias('help', 'h')
  .epilogue(
    `Exit codes: ${EXIT.ok} success; ${EXIT.failure} failure (a command failed, or status found a problem); ${EXIT.usage} invalid arguments or config.`,
  )
  .fail(fail)
  .wrap(Math.min(110, process.stdout.columns ?? 110))
  .parseAsync();
