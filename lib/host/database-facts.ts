/** Host: live facts from the database itself, through `pg`. */
import type { ClientConfig } from 'pg';
import type { LiveSetting } from '../core/settings.js';
import { PgQuadletError } from '../core/errors.js';

export interface TopStatement {
  readonly query: string;
  readonly calls: number;
  readonly totalMs: number;
  readonly meanMs: number;
}

export interface DatabaseFacts {
  readonly version: string;
  readonly uptimeSeconds: number;
  readonly sizeBytes: number;
  readonly connections: number;
  readonly maxConnections: number;
  /** Share of block reads served from shared buffers, 0..1; null before any read. */
  readonly cacheHitRatio: number | null;
  /** The statements with the most total time; null when pg_stat_statements is not installed. */
  readonly topStatements: readonly TopStatement[] | null;
  /** WAL archiving, from `pg_stat_archiver`. */
  readonly archiver: ArchiverFacts;
  /** The settings asked for, as `pg_settings` has them. */
  readonly settings: ReadonlyArray<LiveSetting & { readonly shown: string }>;
}

export interface ArchiverFacts {
  readonly archivedCount: number;
  readonly lastArchivedWal: string | null;
  readonly lastArchivedAt: string | null;
  readonly failedCount: number;
  readonly lastFailedWal: string | null;
  readonly lastFailedAt: string | null;
  /** The last attempt failed: WAL is piling up in pg_wal until the archive takes it again. */
  readonly failing: boolean;
}

export async function databaseFacts(connection: ClientConfig, options: { top?: number; settings?: readonly string[] } = {}): Promise<DatabaseFacts> {
  const top = options.top ?? 5;
  const { default: pg } = await import('pg');
  // A client-side timeout: a server-side statement_timeout would show in the settings read back.
  const client = new pg.Client({ connectionTimeoutMillis: 5000, query_timeout: 5000, ...connection });
  await client.connect();
  try {
    const { rows } = await client.query<{
      version: string;
      uptime: number;
      size: string;
      connections: number;
      max_connections: number;
      hit_ratio: number | null;
      statements: boolean;
    }>(`
      SELECT current_setting('server_version') AS version,
             extract(epoch FROM now() - pg_postmaster_start_time())::float8 AS uptime,
             pg_database_size(current_database())::text AS size,
             (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'client backend') AS connections,
             current_setting('max_connections')::int AS max_connections,
             (SELECT sum(blks_hit)::float8 / nullif(sum(blks_hit) + sum(blks_read), 0) FROM pg_stat_database) AS hit_ratio,
             EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS statements`);
    const row = rows[0];
    if (!row) throw new PgQuadletError('PG_QUADLET_INTERNAL', 'the status query returned no row');
    let topStatements: TopStatement[] | null = null;
    if (row.statements) {
      const result = await client.query<{ query: string; calls: string; total: number; mean: number }>(
        `SELECT query, calls::text, total_exec_time AS total, mean_exec_time AS mean
           FROM pg_stat_statements
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            -- Other roles' statement texts are hidden from the application's role: skip them.
            AND (userid = (SELECT oid FROM pg_roles WHERE rolname = current_user) OR pg_has_role('pg_read_all_stats', 'MEMBER'))
          ORDER BY total_exec_time DESC LIMIT $1`,
        [top],
      );
      topStatements = result.rows.map((statement) => ({
        query: statement.query.replace(/\s+/g, ' ').trim(),
        calls: Number(statement.calls),
        totalMs: statement.total,
        meanMs: statement.mean,
      }));
    }
    const settings = await client.query<LiveSetting & { shown: string }>(
      'SELECT name, setting, unit, vartype, current_setting(name) AS shown FROM pg_settings WHERE name = ANY($1::text[]) ORDER BY name',
      [options.settings ?? []],
    );
    const archiver = await client.query<{
      archived_count: string; last_archived_wal: string | null; last_archived_time: Date | null;
      failed_count: string; last_failed_wal: string | null; last_failed_time: Date | null;
    }>('SELECT archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal, last_failed_time FROM pg_stat_archiver');
    const a = archiver.rows[0];
    return {
      archiver: {
        archivedCount: Number(a?.archived_count ?? 0),
        lastArchivedWal: a?.last_archived_wal ?? null,
        lastArchivedAt: a?.last_archived_time?.toISOString() ?? null,
        failedCount: Number(a?.failed_count ?? 0),
        lastFailedWal: a?.last_failed_wal ?? null,
        lastFailedAt: a?.last_failed_time?.toISOString() ?? null,
        failing: a?.last_failed_time != null && (a.last_archived_time == null || a.last_failed_time > a.last_archived_time),
      },
      settings: settings.rows,
      version: row.version,
      uptimeSeconds: Math.round(row.uptime),
      sizeBytes: Number(row.size),
      connections: row.connections,
      maxConnections: row.max_connections,
      cacheHitRatio: row.hit_ratio,
      topStatements,
    };
  } finally {
    await client.end();
  }
}

export interface PoolFacts {
  /** Client connections using a server connection, and waiting for one. */
  readonly clientsActive: number;
  readonly clientsWaiting: number;
  /** Server connections in use, and idle in the pool. */
  readonly serversActive: number;
  readonly serversIdle: number;
  /** Longest current wait for a server connection, in seconds. */
  readonly maxWaitSeconds: number;
}

/** Figures from PgBouncer's admin console (`SHOW POOLS`), summed over its pools. */
export async function poolFacts(connection: ClientConfig): Promise<PoolFacts> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionTimeoutMillis: 5000, ...connection, database: 'pgbouncer' });
  await client.connect();
  try {
    const { rows } = await client.query<Record<string, string | number>>('SHOW POOLS');
    const sum = (column: string) => rows.reduce((total, row) => total + Number(row[column] ?? 0), 0);
    return {
      clientsActive: sum('cl_active'),
      clientsWaiting: sum('cl_waiting'),
      serversActive: sum('sv_active'),
      serversIdle: sum('sv_idle'),
      maxWaitSeconds: rows.reduce((longest, row) => Math.max(longest, Number(row.maxwait ?? 0)), 0),
    };
  } finally {
    await client.end();
  }
}
