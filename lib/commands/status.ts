/**
 * `status`: each unit's state, the container's health, the backup timer's last and next run, and
 * live facts from the database, among them whether it runs the units and settings the config
 * says. `healthy` is false, with the reasons in `problems`, when anything is wrong.
 */
import type { ClientConfig } from 'pg';
import type { ResolvedConfig } from '../core/config.js';
import { localAddress } from '../core/connection.js';
import { formatAge, formatBytes } from '../core/format.js';
import { unitNames } from '../core/render.js';
import { expectedSettings, settingDrift, type SettingDrift } from '../core/settings.js';
import type { Context } from '../context.js';
import { databaseFacts, poolFacts, type DatabaseFacts, type PoolFacts } from '../host/database-facts.js';
import { Podman } from '../host/podman.js';
import { staleServices, Systemctl, systemdTime } from '../host/systemctl.js';
import { backups, type BackupSet } from './backups.js';

export interface UnitState {
  readonly unit: string;
  readonly load: string;
  readonly active: string;
  readonly sub: string;
}

export interface TimerState {
  readonly unit: string;
  readonly active: string;
  /** As systemd shows them; empty when never run / not scheduled. */
  readonly lastRun: string;
  readonly nextRun: string;
  /** The backup service's last result: `success`, or how it failed. */
  readonly lastResult: string;
}

export interface Status {
  readonly healthy: boolean;
  readonly problems: string[];
  readonly units: UnitState[];
  readonly health: string | null;
  /** Running units started before their unit files last changed: they run the old config. */
  readonly stale: string[];
  /** The backup timers (scheduled and full), when backups are scheduled. */
  readonly timers: TimerState[];
  /** The newest pgBackRest backup; null when there is none or the container is not running. */
  readonly newestBackup: BackupSet | null;
  /** The oldest and newest time a restore can reach. */
  readonly recoveryWindow: { readonly from: string | null; readonly to: string | null } | null;
  readonly database: DatabaseFacts | null;
  /** Settings the server has otherwise than the config says. */
  readonly drift: SettingDrift[];
  /** PgBouncer's figures, when the pool is on and running. */
  readonly pool: PoolFacts | null;
}

export interface StatusOptions {
  /** How to reach the database; by default through the published port with the secret's password. */
  readonly connection?: ClientConfig;
  /** How to reach PgBouncer's admin console; by default through the pool's published port. */
  readonly poolConnection?: ClientConfig;
}

/** Why the service is not running, in words. systemd keeps a unit's first failure as its Result,
 * so a crash loop its start limit ended reads as `failed` after as many restarts as the limit. */
async function stoppedService(systemctl: Systemctl, service: UnitState, user: string): Promise<string> {
  const { NRestarts: restarts = '0', StartLimitBurst: burst = '' } = await systemctl.show(service.unit, ['NRestarts', 'StartLimitBurst']);
  if (service.active !== 'failed' || burst === '' || Number(restarts) < Number(burst)) return `${service.unit} is ${service.active} (${service.sub})`;
  return (
    `${service.unit} failed at every start and systemd stopped restarting it after ${restarts} restarts (its start limit): ` +
    `see journalctl${user} -u ${service.unit} for why; once mended, systemctl${user} reset-failed ${service.unit} && systemctl${user} start ${service.unit}`
  );
}

export async function status(context: Context, options: StatusOptions = {}): Promise<Status> {
  const { config, runner } = context;
  const systemctl = new Systemctl(runner, config.rootless);
  const podman = new Podman(runner);
  const names = unitNames(config);
  const problems: string[] = [];
  const user = config.rootless ? ' --user' : '';

  const units: UnitState[] = [];
  for (const unit of Object.values(names)) {
    if (unit === undefined) continue;
    const shown = await systemctl.show(unit, ['LoadState', 'ActiveState', 'SubState']);
    const state = { unit, load: shown.LoadState ?? '', active: shown.ActiveState ?? '', sub: shown.SubState ?? '' };
    units.push(state);
    if (state.load !== 'loaded') problems.push(`${unit} is ${state.load || 'unknown'} (is it installed? run pg-quadlet install)`);
  }
  const isActive = (unit: string | undefined) => units.some((state) => state.unit === unit && state.active === 'active');
  const service = units.find((unit) => unit.unit === names.service);
  if (service?.load === 'loaded' && service.active !== 'active') problems.push(await stoppedService(systemctl, service, user));

  const health = (await podman.health(config.name)) ?? null;
  if (isActive(names.service) && health !== 'healthy') problems.push(`the container's health check says ${health ?? 'nothing'}`);

  const stale = await staleServices(systemctl, context.paths.quadletDir, [names.service, ...(names.pool ? [names.pool] : [])]);
  if (stale.length > 0) {
    problems.push(`${stale.join(' and ')} ${stale.length === 1 ? 'runs' : 'run'} on older units than the installed files: apply them with pg-quadlet install --now, or systemctl${user} restart ${names.service}`);
  }

  const timers: TimerState[] = [];
  const scheduled = [
    [names.backupTimer, names.backupService, 'backups are not scheduled', 'the last backup failed'],
    [names.fullBackupTimer, names.fullBackupService, 'full backups are not scheduled', 'the last full backup failed'],
    [names.verifyTimer, names.verifyService, 'the backups are not verified', 'the last verification failed'],
    [names.updateTimer, names.updateService, 'image updates are not scheduled', 'the last image update failed or was rolled back'],
  ] as const;
  for (const [timer, service, unscheduled, failed] of scheduled) {
    if (timer === undefined || service === undefined) continue;
    const state = await timerState(systemctl, timer, service);
    timers.push(state);
    if (state.active !== 'active') problems.push(`${timer} is ${state.active || 'unknown'}: ${unscheduled}`);
    if (state.lastResult !== '' && state.lastResult !== 'success') problems.push(`${failed} (${state.lastResult}): see journalctl${user} -u ${service}`);
  }

  let newestBackup: BackupSet | null = null;
  let recoveryWindow: Status['recoveryWindow'] = null;
  let database: DatabaseFacts | null = null;
  let drift: SettingDrift[] = [];
  let password: string | undefined;
  const secret = async () => (password ??= await podman.secretValue(config.passwordSecret));
  if (isActive(names.service)) {
    // The database first: its archiver facts give the backups' recovery window without asking again.
    // Its problems are listed after the backups', as people read them.
    const databaseProblems: string[] = [];
    const expected = expectedSettings(config);
    try {
      database = await databaseFacts(options.connection ?? defaultConnection(config, config.port, await secret()), { settings: Object.keys(expected) });
      drift = settingDrift(expected, database.settings, Object.fromEntries(database.settings.map((row) => [row.name, row.shown])));
      const { archiver } = database;
      if (archiver.failing) {
        databaseProblems.push(
          `WAL archiving is failing (last failure ${archiver.lastFailedAt}, on ${archiver.lastFailedWal}): WAL piles up in pg_wal on the data volume until it works again; see journalctl${user} -u ${names.service}`,
        );
      }
      for (const setting of drift) {
        databaseProblems.push(`${setting.name} is ${setting.live} on the server, and the config says ${setting.configured}: restart it to apply (pg-quadlet install --now)`);
      }
    } catch (error) {
      databaseProblems.push(`the database did not answer: ${(error as Error).message}`);
    }
    try {
      const repository = await backups(context, database ? { lastArchivedAt: database.archiver.lastArchivedAt } : {});
      newestBackup = repository.backups[0] ?? null;
      recoveryWindow = repository.recoveryWindow;
      if (config.backup.enabled) problems.push(...backupAgeProblems(newestBackup, timers[0], names.backupService, user));
    } catch (error) {
      problems.push(`the backups could not be listed: ${(error as Error).message}`);
    }
    problems.push(...databaseProblems);
  }

  let pool: PoolFacts | null = null;
  const poolService = units.find((unit) => unit.unit === names.pool);
  if (poolService?.load === 'loaded' && poolService.active !== 'active') problems.push(`${poolService.unit} is ${poolService.active} (${poolService.sub})`);
  if (isActive(names.pool)) {
    try {
      pool = await poolFacts(options.poolConnection ?? defaultConnection(config, config.pool.port, await secret()));
    } catch (error) {
      problems.push(`PgBouncer did not answer: ${(error as Error).message}`);
    }
  }
  return { healthy: problems.length === 0, problems, units, health, stale, timers, newestBackup, recoveryWindow, database, drift, pool };
}

/** No backup, or a newest one older than twice the scheduled backups' interval (read from the
 * timer's last and next run): the schedule stopped working. */
function backupAgeProblems(newest: BackupSet | null, timer: TimerState | undefined, service: string, user: string): string[] {
  if (!newest) return ['there is no backup yet: take one with pg-quadlet backup (the timers take the next)'];
  const last = systemdTime(timer?.lastRun);
  const next = systemdTime(timer?.nextRun);
  if (last === undefined || next === undefined || next <= last) return [];
  const interval = (next - last) / 1000;
  if (newest.ageSeconds <= 2 * interval) return [];
  return [`the newest backup (${newest.label}) is ${formatAge(newest.ageSeconds)} old, more than twice the backup schedule's ${formatAge(Math.round(interval))}: see journalctl${user} -u ${service}`];
}

async function timerState(systemctl: Systemctl, unit: string, service: string): Promise<TimerState> {
  const shown = await systemctl.show(unit, ['ActiveState', 'LastTriggerUSec', 'NextElapseUSecRealtime']);
  const result = await systemctl.show(service, ['Result']);
  // As systemd shows them (the timer's times keep its own format whatever the style asked).
  const when = (value: string | undefined) => (value === undefined || value === 'n/a' ? '' : value);
  return {
    unit,
    active: shown.ActiveState ?? '',
    lastRun: when(shown.LastTriggerUSec),
    nextRun: when(shown.NextElapseUSecRealtime),
    lastResult: result.Result ?? '',
  };
}

function defaultConnection(config: ResolvedConfig, port: number, password: string): ClientConfig {
  return {
    host: localAddress(config.bindAddress),
    port,
    user: config.user,
    database: config.database,
    password,
    // A local probe over loopback: encrypted as the server demands, but not verified against a
    // CA this host may not carry (clients elsewhere use verify-full, see connectionUrl).
    ...(config.tls ? { ssl: { servername: config.tls.domain, rejectUnauthorized: false } } : {}),
  };
}

export function formatStatus(status: Status): string {
  const lines = [status.healthy ? 'healthy' : 'NOT HEALTHY', ''];
  for (const unit of status.units) lines.push(`${unit.unit.padEnd(48)} ${unit.load}/${unit.active}/${unit.sub}`);
  lines.push(`container health: ${status.health ?? 'not running'}`);
  for (const timer of status.timers) {
    lines.push(`${timer.unit}: last run ${timer.lastRun || 'never'} (${timer.lastResult || 'no result yet'}), next ${timer.nextRun || 'not scheduled'}`);
  }
  if (status.newestBackup) {
    const window = status.recoveryWindow;
    lines.push(`newest backup: ${status.newestBackup.label} (${status.newestBackup.type}), ${formatAge(status.newestBackup.ageSeconds)} old, ${formatBytes(status.newestBackup.storedBytes)} stored`);
    if (window?.from) lines.push(`a restore can reach any time from ${window.from} to ${window.to ?? window.from}`);
  } else if (status.health !== null) {
    lines.push('newest backup: none found');
  }
  const db = status.database;
  if (db) {
    lines.push(
      '',
      `PostgreSQL ${db.version}, up ${formatAge(db.uptimeSeconds)}, database ${formatBytes(db.sizeBytes)}`,
      `connections ${db.connections} of ${db.maxConnections}, cache hit ratio ${db.cacheHitRatio === null ? 'n/a' : `${(db.cacheHitRatio * 100).toFixed(2)}%`}`,
      `WAL archiving: ${db.archiver.failing ? 'FAILING' : 'ok'}, last archived ${db.archiver.lastArchivedWal ?? 'nothing yet'}${db.archiver.lastArchivedAt ? ` at ${db.archiver.lastArchivedAt}` : ''}${db.archiver.failedCount > 0 ? `, ${db.archiver.failedCount} failed attempts` : ''}`,
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
