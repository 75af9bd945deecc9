/**
 * `status`: each unit's state, the container's health, the backup timer's last and next run, and
 * live facts from the database. `healthy` is false, with the reasons in `problems`, when
 * anything is wrong.
 */
import type { ClientConfig } from 'pg';
import { listBackups, type Backup } from '../backups.js';
import type { PostgresServiceConfig } from '../config.js';
import { databaseFacts, poolFacts, type DatabaseFacts, type PoolFacts } from '../database-facts.js';
import { Podman } from '../podman.js';
import { renderUnits } from '../render.js';
import type { Runner } from '../runner.js';
import { Systemctl } from '../systemctl.js';
import { localAddress } from './url.js';

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
  readonly timer: TimerState | null;
  /** The newest complete backup in the backup volume; null when there is none or the container is not running. */
  readonly newestBackup: Backup | null;
  readonly database: DatabaseFacts | null;
  /** PgBouncer's figures, when the pool is on and running. */
  readonly pool: PoolFacts | null;
}

export interface StatusOptions {
  readonly config: PostgresServiceConfig;
  readonly runner: Runner;
  /** How to reach the database; by default through the published port with the secret's password. */
  readonly connection?: ClientConfig;
  /** How to reach PgBouncer's admin console; by default through the pool's published port. */
  readonly poolConnection?: ClientConfig;
}

export async function status({ config, runner, connection, poolConnection }: StatusOptions): Promise<Status> {
  const systemctl = new Systemctl(runner, config.rootless);
  const podman = new Podman(runner);
  const problems: string[] = [];

  const units: UnitState[] = [];
  for (const unit of renderUnits(config)) {
    const shown = await systemctl.show(unit.unitName, ['LoadState', 'ActiveState', 'SubState']);
    const state = { unit: unit.unitName, load: shown.LoadState ?? '', active: shown.ActiveState ?? '', sub: shown.SubState ?? '' };
    units.push(state);
    if (state.load !== 'loaded') problems.push(`${unit.unitName} is ${state.load || 'unknown'} (is it installed? run pg-quadlet install)`);
  }
  const service = units.find((unit) => unit.unit === `${config.name}.service`);
  if (service?.load === 'loaded' && service.active !== 'active') problems.push(`${service.unit} is ${service.active} (${service.sub})`);

  const health = (await podman.health(config.name)) ?? null;
  if (service?.active === 'active' && health !== 'healthy') problems.push(`the container's health check says ${health ?? 'nothing'}`);

  let timer: TimerState | null = null;
  if (config.backup.enabled) {
    const unit = `${config.name}-backup.timer`;
    const shown = await systemctl.show(unit, ['ActiveState', 'LastTriggerUSec', 'NextElapseUSecRealtime']);
    const backup = await systemctl.show(`${config.name}-backup.service`, ['Result']);
    timer = {
      unit,
      active: shown.ActiveState ?? '',
      lastRun: shown.LastTriggerUSec === 'n/a' ? '' : (shown.LastTriggerUSec ?? ''),
      nextRun: shown.NextElapseUSecRealtime === 'n/a' ? '' : (shown.NextElapseUSecRealtime ?? ''),
      lastResult: backup.Result ?? '',
    };
    if (timer.active !== 'active') problems.push(`${unit} is ${timer.active || 'unknown'}: backups are not scheduled`);
    if (timer.lastResult !== '' && timer.lastResult !== 'success') problems.push(`the last backup failed (${timer.lastResult}): see journalctl -u ${config.name}-backup.service`);
  }

  let newestBackup: Backup | null = null;
  if (service?.active === 'active') {
    try {
      newestBackup = (await listBackups(config, runner))[0] ?? null;
    } catch (error) {
      problems.push(`the backups could not be listed: ${(error as Error).message}`);
    }
  }

  let database: DatabaseFacts | null = null;
  let password: string | undefined;
  const secret = async () => (password ??= await podman.secretValue(config.passwordSecret));
  if (service?.active === 'active') {
    try {
      database = await databaseFacts(connection ?? defaultConnection(config, config.port, await secret()));
    } catch (error) {
      problems.push(`the database did not answer: ${(error as Error).message}`);
    }
  }

  let pool: PoolFacts | null = null;
  const poolService = units.find((unit) => unit.unit === `${config.name}-pool.service`);
  if (poolService) {
    if (poolService.load === 'loaded' && poolService.active !== 'active') problems.push(`${poolService.unit} is ${poolService.active} (${poolService.sub})`);
    if (poolService.active === 'active') {
      try {
        pool = await poolFacts(poolConnection ?? defaultConnection(config, config.pool.port, await secret()));
      } catch (error) {
        problems.push(`PgBouncer did not answer: ${(error as Error).message}`);
      }
    }
  }
  return { healthy: problems.length === 0, problems, units, health, timer, newestBackup, database, pool };
}

function defaultConnection(config: PostgresServiceConfig, port: number, password: string): ClientConfig {
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
