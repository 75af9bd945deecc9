/** `url`: the connection string in Poststack's `DATABASE_URL` form. */
import type { PostgresServiceConfig } from '../config.js';
import { Podman } from '../podman.js';
import type { Runner } from '../runner.js';

export interface ConnectionTarget {
  readonly host: string;
  readonly port: number;
  /** `verify-full` with TLS (the host is then the certificate's domain), else `disable`. */
  readonly sslmode: 'verify-full' | 'disable';
}

/** The address a client on this host dials: a wildcard bind address is reached on loopback. */
export function localAddress(bindAddress: string): string {
  return bindAddress === '0.0.0.0' ? '127.0.0.1' : bindAddress === '::' ? '::1' : bindAddress;
}

export class PoolDisabledError extends Error {
  override readonly name = 'PoolDisabledError';
  constructor() {
    super('the pool is off: enable it with pool.enabled = true (e.g. --set pool.enabled=true) and install again');
  }
}

/** Where clients connect: PostgreSQL itself, or (pooled) PgBouncer in front of it. */
export function connectionTarget(config: PostgresServiceConfig, pooled = false): ConnectionTarget {
  if (pooled && !config.pool.enabled) throw new PoolDisabledError();
  const port = pooled ? config.pool.port : config.port;
  if (config.tls) return { host: config.tls.domain, port, sslmode: 'verify-full' };
  return { host: localAddress(config.bindAddress), port, sslmode: 'disable' };
}

export function connectionUrl(config: PostgresServiceConfig, password?: string, pooled = false): string {
  const { host, port, sslmode } = connectionTarget(config, pooled);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const secret = password === undefined ? '***' : encodeURIComponent(password);
  return `postgresql://${config.user}:${secret}@${shownHost}:${port}/${config.database}?sslmode=${sslmode}`;
}

/** The URL, with the real password read from the Podman secret when asked for. */
export async function url(config: PostgresServiceConfig, runner: Runner, options: { showPassword?: boolean; pooled?: boolean } = {}): Promise<string> {
  const pooled = options.pooled ?? false;
  connectionTarget(config, pooled);
  if (!options.showPassword) return connectionUrl(config, undefined, pooled);
  return connectionUrl(config, await new Podman(runner).secretValue(config.passwordSecret), pooled);
}
