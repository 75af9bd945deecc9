// Runs the pool container's command on this host: the image's entrypoint with pool.sh as its
// command, as the OS user postgres, with Debian's PgBouncer in front of a sandboxed PostgreSQL,
// both on loopback and on free ports.
import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { freePort, sandboxMissing, type Sandbox, type Server } from '../image/sandbox.js';

export const PGBOUNCER = '/usr/sbin/pgbouncer';

/** Why these tests cannot run here, or null when they can. */
export function poolMissing(): string | null {
  const sandbox = sandboxMissing();
  if (sandbox) return sandbox;
  if (!fs.existsSync(PGBOUNCER)) return `PgBouncer is not installed (${PGBOUNCER}); run test/setup.sh as root`;
  return null;
}

export interface Pool {
  server: Server;
  port: number;
  /** The environment pool.sh got beyond the sandbox's: the health check needs the same. */
  env: Record<string, string>;
}

/** Starts pool.sh against the box's server, listening on loopback only, and waits until the
 * configured role can log in through it. */
export async function startPool(box: Sandbox, env: Record<string, string> = {}, connect: pg.ClientConfig = {}): Promise<Pool> {
  const pool = await spawnPool(box, env);
  await box.waitReady(pool.server, { ...connect, port: pool.port });
  return pool;
}

/** Starts pool.sh without waiting for it. */
export async function spawnPool(box: Sandbox, env: Record<string, string> = {}): Promise<Pool> {
  const port = await freePort();
  // The containers each have their own /run; here they share the sandbox's socket directory.
  const poolEnv = {
    POOL_SERVER_HOST: '127.0.0.1',
    POOL_LISTEN_ADDR: '127.0.0.1',
    POOL_PORT: String(port),
    POSTGRES_CURRENT_PASSWORD_FILE: path.join(box.paths.socket, 'pool-current-password'),
    ...env,
  };
  const server = box.start({ args: [poolScript(box)], env: poolEnv });
  return { server, port, env: poolEnv };
}

export const poolScript = (box: Sandbox): string => path.join(box.paths.scripts, 'pool.sh');
export const poolRunDir = (box: Sandbox): string => path.join(box.paths.socket, 'pool');

export async function poolHealthy(box: Sandbox, pool: Pool, env: Record<string, string> = {}, args: string[] = []): Promise<boolean> {
  const result = await box.runAsPostgres(path.join(box.paths.scripts, 'pool-health-check.sh'), args, { env: { ...pool.env, ...env } });
  return result.exitCode === 0;
}

/** The SQLSTATE (or Node's error code) a query fails with, or 'ok'. */
export async function queryError(client: pg.Client, sql: pg.QueryConfig | string): Promise<string> {
  try {
    await client.query(sql);
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}
