// A backup taken while pgbench writes is one consistent snapshot across its parallel jobs: each
// pgbench transaction moves the same amount in accounts, tellers and branches and logs it in
// history, so the four sums are equal in a consistent copy and drift apart in any other. The
// restore, too, runs while clients write, and ends their connections when it swaps.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skipUnless } from '../support/skip.js';
import { sandboxMissing, withSandbox, type Sandbox } from '../image/sandbox.js';
import { backupNow, makeBackupDir, pgbench, restoreNow, waitFor } from './support.js';

const test = skipUnless(suite('backup: consistency'), sandboxMissing(), 'backups under load against PostgreSQL 15');

const SUMS = `SELECT (SELECT sum(abalance) FROM pgbench_accounts) || ' ' || (SELECT sum(tbalance) FROM pgbench_tellers) || ' '
                  || (SELECT sum(bbalance) FROM pgbench_branches) || ' ' || (SELECT coalesce(sum(delta), 0) FROM pgbench_history)`;

const historyRows = async (box: Sandbox) => Number(await box.superuser('SELECT count(*) FROM pgbench_history'));

test('a backup taken while pgbench writes restores to a consistent snapshot, even when restored under load', async () => {
  await withSandbox(async (box) => {
    makeBackupDir(box);
    await box.startReady();
    const init = await pgbench(box, ['--initialize', '--scale=2', '--quiet']);
    assert.is(init.exitCode, 0, String(init.all));

    const load = pgbench(box, ['--client=4', '--time=120', '--no-vacuum']);
    try {
      await waitFor('pgbench to write', async () => (await historyRows(box)) > 200);
      const atStart = await historyRows(box);
      const name = await backupNow(box);
      const atEnd = await historyRows(box);
      assert.ok(atEnd > atStart, `pgbench wrote during the backup (${atStart} -> ${atEnd} transactions)`);

      const output = await restoreNow(box, [name]);
      assert.match(output, /restored .* into poststack/);
      const loadResult = await load;
      assert.match(String(loadResult.all), /terminat/i, 'the clients writing to the replaced database were disconnected');
    } finally {
      load.kill('SIGKILL');
      await load.catch(() => undefined);
    }

    const [accounts, tellers, branches, history] = (await box.superuser(SUMS)).split(' ');
    assert.is(tellers, accounts);
    assert.is(branches, accounts);
    assert.is(history, accounts);
    const restoredRows = await historyRows(box);
    assert.ok(restoredRows > 200, `the snapshot holds the transactions before the backup (${restoredRows})`);
    assert.is(await box.superuser('SELECT count(*) FROM pgbench_accounts'), '200000');
  });
});

test.run();
