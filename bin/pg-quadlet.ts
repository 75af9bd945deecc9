#!/usr/bin/env node
// The command line: parses arguments and prints what the library returns. Each handler imports
// its library module on demand, so a command loads only what it needs.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { EXIT, fail } from '../lib/cli-output.js';

await yargs(hideBin(process.argv))
  .scriptName('pg-quadlet')
  .usage('$0 <command> [options]\n\nRun PostgreSQL on one host with Podman Quadlet and systemd.')
  .command(
    'render',
    'Render the unit files for the config',
    (command) =>
      command
        .option('out', { type: 'string', describe: 'Write the files into this directory instead of printing them' })
        .option('json', { type: 'boolean', default: false, describe: 'Print the files as JSON: [{fileName, target, unitName, content}]' })
        .example('$0 render', 'Print every unit of the default config')
        .example('$0 render --out ./units', 'Write them into ./units')
        .example('$0 render --json | jq -r ".[].fileName"', 'List the file names'),
    async (argv) => {
      const { renderToDirectory } = await import('../lib/commands/render.js');
      const { units, written } = renderToDirectory({}, argv.out);
      if (argv.json) {
        process.stdout.write(`${JSON.stringify(units, null, 2)}\n`);
      } else if (written.length > 0) {
        for (const file of written) process.stdout.write(`wrote ${file}\n`);
      } else {
        process.stdout.write(units.map((unit) => `==> ${unit.fileName} <==\n${unit.content}`).join('\n'));
      }
    },
  )
  .demandCommand(1, 'Give a command: see the list above.')
  .strict()
  .help()
  .alias('help', 'h')
  .epilogue(`Exit codes: ${EXIT.ok} success, ${EXIT.failure} failure, ${EXIT.usage} invalid arguments or config.`)
  .fail(fail)
  .wrap(Math.min(100, process.stdout.columns ?? 100))
  .parseAsync();
