#!/usr/bin/env node
// Runs every test file under test/ with uvu (TypeScript through tsx) and closes with the line CI
// reads: "N passed, N failed, N skipped". uvu exits 0 when no test ran and has no failed count,
// so both are derived here. Under CI every skip is a failure: CI has every tool installed.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const uvuBin = fileURLToPath(new URL('../node_modules/uvu/bin.js', import.meta.url));
// An optional regex narrows the run (`node test/run.mjs '^cli/'`); only *.test.ts files ever load.
const pattern = `^(?=.*(?:${process.argv[2] ?? ''})).*\\.test\\.ts$`;
const child = spawn(
  process.execPath,
  ['--import', 'tsx', uvuBin, 'test', pattern, '--no-color'],
  { stdio: ['inherit', 'pipe', 'inherit'], env: { ...process.env, FORCE_COLOR: '0' } },
);

let out = '';
child.stdout.on('data', (chunk) => {
  out += chunk;
  process.stdout.write(chunk);
});
child.on('close', (code, signal) => {
  const count = (label) => Number(out.match(new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'm'))?.[1] ?? 0);
  const total = count('Total');
  const passed = count('Passed');
  const skipped = count('Skipped');
  const failed = Math.max(total - passed - skipped, code === 0 && !signal ? 0 : 1);
  console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
  if (total === 0) {
    console.error('no test ran: treating the run as failed');
    process.exit(1);
  }
  if (process.env.CI && skipped > 0) {
    console.error(`CI must skip nothing, and ${skipped} test(s) were skipped: see the reasons above`);
    process.exit(1);
  }
  process.exit(failed > 0 ? 1 : 0);
});
