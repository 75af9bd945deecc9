#!/usr/bin/env node
// The command line: parses arguments and prints what the library returns. Each handler imports
// its library modules on demand, so a command loads only what it needs.
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { EXIT, fail } from '../lib/cli-output.js';

interface GlobalArgs {
  config?: string | undefined;
  set?: string[] | undefined;
  user?: boolean | undefined;
  root?: string | undefined;
  verbose?: boolean | undefined;
}

const out = (text: string): void => {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
};
const note = (text: string): void => {
  process.stderr.write(`${text}\n`);
};

async function context(argv: GlobalArgs) {
  const [{ loadConfig }, { installPaths }, { execaRunner }] = await Promise.all([
    import('../lib/config-sources.js'),
    import('../lib/install-paths.js'),
    import('../lib/runner.js'),
  ]);
  const sets = [...(argv.set ?? []), ...(argv.user ? ['rootless=true'] : [])];
  const loaded = loadConfig({ sets, rootless: argv.user ?? false, ...(argv.config ? { file: argv.config } : {}), ...(argv.root ? { root: argv.root } : {}) });
  const paths = installPaths({ rootless: loaded.config.rootless, ...(argv.root ? { root: argv.root } : {}) });
  const runner = execaRunner(argv.verbose ? note : undefined);
  return { ...loaded, paths, runner };
}

const withJson = <T>(command: Argv<T>) => command.option('json', { type: 'boolean', default: false, describe: 'Print JSON for scripts' });

async function readPassword(argv: { 'password-file'?: string | undefined; 'password-stdin'?: boolean | undefined }) {
  const { readFileSync } = await import('node:fs');
  if (argv['password-file'] && argv['password-stdin']) throw new Error('give --password-file or --password-stdin, not both');
  const raw = argv['password-file'] ? readFileSync(argv['password-file'], 'utf8') : argv['password-stdin'] ? readFileSync(0, 'utf8') : undefined;
  if (raw === undefined) return undefined;
  const value = raw.replace(/\r?\n$/, '');
  if (value === '') throw new Error('the password given is empty');
  return { kind: 'value' as const, value };
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
  .option('verbose', { type: 'boolean', default: false, describe: 'Show every command run' })
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
      const [{ loadConfig }, { renderToDirectory }] = await Promise.all([import('../lib/config-sources.js'), import('../lib/commands/render.js')]);
      const sets = [...(argv.set ?? []), ...(argv.user ? ['rootless=true'] : [])];
      const { config } = loadConfig({ sets, rootless: argv.user, ...(argv.config ? { file: argv.config } : {}) });
      const { units, written } = renderToDirectory(config, argv.out);
      if (argv.json) out(JSON.stringify(units, null, 2));
      else if (written.length > 0) for (const file of written) out(`wrote ${file}`);
      else out(units.map((unit) => `==> ${unit.fileName} <==\n${unit.content}`).join('\n'));
    },
  )
  .command(
    'config',
    'Print the effective config and where each value came from',
    (command) => withJson(command).example('$0 config --set port=6543', 'Show the config with one field overridden'),
    async (argv) => {
      const { config, sources, file } = await context(argv);
      if (argv.json) return out(JSON.stringify({ config, sources, file: file ?? null }, null, 2));
      const { configLines } = await import('../lib/commands/config.js');
      out(configLines(config, sources).join('\n'));
    },
  )
  .command(
    'schema',
    'Print the JSON Schema of the config (for editors; also shipped as docs/config.schema.json)',
    () => {},
    async () => {
      const { configJsonSchema } = await import('../lib/json-schema.js');
      out(JSON.stringify(configJsonSchema(), null, 2));
    },
  )
  .command(
    'install',
    'Install the units into systemd, create the password secret, reload, enable the backup timer',
    (command) =>
      withJson(command)
        .option('now', { type: 'boolean', default: false, describe: 'Also start PostgreSQL and wait until it is healthy' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'Print every action and change nothing' })
        .option('force', { type: 'boolean', default: false, describe: 'Replace unit files that pg-quadlet did not generate' })
        .option('password-file', { type: 'string', describe: 'Take the password from this file when the secret does not exist yet' })
        .option('password-stdin', { type: 'boolean', default: false, describe: 'Take the password from standard input' })
        .example('$0 install --now', 'Install and start; a strong password is generated and shown once')
        .example('$0 install --user --password-file ~/pg.pass', 'Install rootless, with your own password')
        .example('$0 install --dry-run', 'Show what would change, and the diff'),
    async (argv) => {
      const ctx = await context(argv);
      const { install } = await import('../lib/commands/install.js');
      const password = await readPassword(argv);
      const result = await install({
        config: ctx.config,
        paths: ctx.paths,
        runner: ctx.runner,
        dryRun: argv['dry-run'],
        force: argv.force,
        now: argv.now,
        ...(password ? { password } : {}),
        ...(argv.json ? {} : { onProgress: (line: string) => note(`... ${line}`) }),
      });
      if (argv.json) return out(JSON.stringify(result, null, 2));
      const { installReport } = await import('../lib/commands/reports.js');
      out(installReport(result));
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
      const ctx = await context(argv);
      if (argv.purge && !argv['dry-run'] && !argv.yes) {
        const question = `Delete the volumes ${ctx.config.dataVolume} (all data) and ${ctx.config.backupVolume} (all backups), and the secret ${ctx.config.passwordSecret}?`;
        if (!(await confirm(question))) {
          note('pg-quadlet: nothing was purged (answer yes, or pass --yes).');
          process.exitCode = EXIT.usage;
          return;
        }
      }
      const { uninstall } = await import('../lib/commands/uninstall.js');
      const result = await uninstall({ config: ctx.config, paths: ctx.paths, runner: ctx.runner, purge: argv.purge, dryRun: argv['dry-run'] });
      if (argv.json) return out(JSON.stringify(result, null, 2));
      const { uninstallReport } = await import('../lib/commands/reports.js');
      out(uninstallReport(result, ctx.config));
    },
  )
  .command(
    'status',
    'Report the units, health, backup timer and the database itself; exit 1 when something is wrong',
    (command) => withJson(command).example('$0 status --json | jq .healthy', 'Check from a script'),
    async (argv) => {
      const ctx = await context(argv);
      const { status } = await import('../lib/commands/status.js');
      const result = await status({ config: ctx.config, runner: ctx.runner });
      if (argv.json) out(JSON.stringify(result, null, 2));
      else out((await import('../lib/commands/reports.js')).statusReport(result));
      if (!result.healthy) process.exitCode = EXIT.failure;
    },
  )
  .command(
    'url',
    "Print the connection string (Poststack's DATABASE_URL)",
    (command) =>
      command
        .option('show-password', { type: 'boolean', default: false, describe: 'Include the real password (read from the Podman secret)' })
        .option('pooled', { type: 'boolean', default: false, describe: 'Connect through PgBouncer (pool.enabled)' })
        .example('$0 url', 'postgresql://poststack:***@127.0.0.1:5432/poststack?sslmode=disable')
        .example('export DATABASE_URL="$($0 url --show-password)"', 'Hand it to an application')
        .example('$0 url --pooled', 'The same through PgBouncer'),
    async (argv) => {
      const ctx = await context(argv);
      const { url } = await import('../lib/commands/url.js');
      out(await url(ctx.config, ctx.runner, { showPassword: argv['show-password'], pooled: argv.pooled }));
    },
  )
  .command(
    'backup',
    'Take a backup now, in the running container, and report its file, size and time',
    (command) => withJson(command).example('$0 backup', 'Back up now, as the backup timer does'),
    async (argv) => {
      const ctx = await context(argv);
      const { backup, backupReport } = await import('../lib/commands/backup.js');
      const result = await backup(ctx.config, ctx.runner);
      out(argv.json ? JSON.stringify(result, null, 2) : backupReport(result));
    },
  )
  .command(
    'backups',
    'List the backups in the backup volume, newest first, with age and size',
    (command) => withJson(command).example('$0 backups --json | jq -r ".[0].name"', 'The newest backup'),
    async (argv) => {
      const ctx = await context(argv);
      const [{ listBackups }, { backupsReport }] = await Promise.all([import('../lib/backups.js'), import('../lib/commands/backup.js')]);
      const list = await listBackups(ctx.config, ctx.runner);
      out(argv.json ? JSON.stringify(list, null, 2) : backupsReport(list));
    },
  )
  .command(
    'restore [backup]',
    'Restore a backup into the database; the database as it was is kept under another name',
    (command) =>
      withJson(command)
        .positional('backup', { type: 'string', describe: 'A backup listed by pg-quadlet backups; else a backup directory or *.sql.gz on this host (copied in for the restore); else a path in the container' })
        .option('latest', { type: 'boolean', default: false, describe: 'Restore the newest backup' })
        .option('yes', { type: 'boolean', default: false, describe: 'Do not ask before restoring (for scripts)' })
        .example('$0 restore --latest', 'Restore the newest backup, after asking')
        .example('$0 restore poststack_20260101T020000Z --yes', 'Restore that backup without asking')
        .example('$0 restore ./backup_20260101_020000.sql.gz', "Restore a file from this host, such as the spec's pg_dump | gzip"),
    async (argv) => {
      if (Boolean(argv.backup) === argv.latest) {
        note('pg-quadlet: give a backup to restore, or --latest (not both). Run "pg-quadlet backups" to list them.');
        process.exitCode = EXIT.usage;
        return;
      }
      const ctx = await context(argv);
      const [{ planRestore, restore, restoreReport }, { formatAge, formatBytes }] = await Promise.all([
        import('../lib/commands/restore.js'),
        import('../lib/backups.js'),
      ]);
      const plan = await planRestore(ctx.config, ctx.runner, argv.latest ? { latest: true } : { source: argv.backup as string });
      if (!argv.yes) {
        const what = plan.backup
          ? `${plan.source} (taken ${formatAge(plan.backup.ageSeconds)} ago, ${formatBytes(plan.backup.sizeBytes)})`
          : `${plan.source}${plan.fromHost ? ' (a file on this host)' : ''}`;
        if (!(await confirm(`Restore ${what} into the database ${plan.database}? Connections to it are ended; the database as it is now is kept under another name.`))) {
          note('pg-quadlet: nothing was restored (answer yes, or pass --yes).');
          process.exitCode = EXIT.usage;
          return;
        }
      }
      const result = await restore(ctx.config, ctx.runner, plan, note);
      out(argv.json ? JSON.stringify(result, null, 2) : restoreReport(result, ctx.config.name));
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
