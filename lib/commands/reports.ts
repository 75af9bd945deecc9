/** What the command line prints for people (scripts use --json). */
import { formatAge, formatBytes } from '../backups.js';
import type { PostgresServiceConfig } from '../config.js';
import type { InstallResult } from './install.js';
import type { Status } from './status.js';
import type { UninstallResult } from './uninstall.js';

export function installReport(result: InstallResult): string {
  const lines: string[] = [];
  for (const file of result.files) {
    lines.push(`${file.status.padEnd(9)} ${file.path}`);
    if (file.diff && file.status !== 'unchanged') lines.push(indent(file.diff));
  }
  if (!result.changed) {
    lines.push('Nothing to change: the installed units, secret and timer already match the config.');
  } else {
    lines.push(result.dryRun ? 'Would do (dry run, nothing changed):' : 'Done:');
    lines.push(...result.actions.map((action) => `  - ${action}`));
  }
  if (result.generatedPassword) {
    lines.push(
      `A password was generated and stored in ${result.generatedPassword.file} (readable by its owner only).`,
      `It is shown this once: ${result.generatedPassword.value}`,
    );
  }
  lines.push(...result.warnings.map((warning) => `Note: ${warning}`));
  return lines.join('\n');
}

export function uninstallReport(result: UninstallResult, config: PostgresServiceConfig): string {
  const lines = [result.dryRun ? 'Would do (dry run, nothing changed):' : 'Done:', ...result.actions.map((action) => `  - ${action}`)];
  for (const file of result.kept) lines.push(`Kept ${file}: pg-quadlet did not generate it.`);
  if (!result.actions.some((action) => action.startsWith('podman volume rm'))) {
    lines.push(`Kept the volumes ${config.dataVolume} and ${config.backupVolume}, and the secret ${config.passwordSecret}: a later install finds the data again.`);
  }
  return lines.join('\n');
}

export function statusReport(status: Status): string {
  const lines = [status.healthy ? 'healthy' : 'NOT HEALTHY', ''];
  for (const unit of status.units) lines.push(`${unit.unit.padEnd(48)} ${unit.load}/${unit.active}/${unit.sub}`);
  lines.push(`container health: ${status.health ?? 'not running'}`);
  if (status.timer) {
    lines.push(`backups: last run ${status.timer.lastRun || 'never'} (${status.timer.lastResult || 'no result yet'}), next ${status.timer.nextRun || 'not scheduled'}`);
  }
  if (status.newestBackup) {
    lines.push(`newest backup: ${status.newestBackup.name}, ${formatAge(status.newestBackup.ageSeconds)} old, ${formatBytes(status.newestBackup.sizeBytes)}`);
  } else if (status.health !== null) {
    lines.push('newest backup: none found');
  }
  const db = status.database;
  if (db) {
    lines.push(
      '',
      `PostgreSQL ${db.version}, up ${formatAge(db.uptimeSeconds)}, database ${formatBytes(db.sizeBytes)}`,
      `connections ${db.connections} of ${db.maxConnections}, cache hit ratio ${db.cacheHitRatio === null ? 'n/a' : `${(db.cacheHitRatio * 100).toFixed(2)}%`}`,
    );
    if (db.topStatements && db.topStatements.length > 0) {
      lines.push('top statements by total time:');
      for (const statement of db.topStatements) {
        lines.push(`  ${statement.totalMs.toFixed(1).padStart(10)} ms  ${String(statement.calls).padStart(8)} calls  ${statement.query.slice(0, 80)}`);
      }
    }
  }
  if (status.pool) {
    const pool = status.pool;
    lines.push('', `pool: clients ${pool.clientsActive} active, ${pool.clientsWaiting} waiting (longest ${pool.maxWaitSeconds} s); servers ${pool.serversActive} active, ${pool.serversIdle} idle`);
  }
  if (status.problems.length > 0) lines.push('', 'problems:', ...status.problems.map((problem) => `  - ${problem}`));
  return lines.join('\n');
}

function indent(text: string): string {
  return text.trimEnd().split('\n').map((line) => `    ${line}`).join('\n');
}
