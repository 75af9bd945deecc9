/** Core: where clients connect, and the connection string in Poststack's `DATABASE_URL` form. */
import type { ResolvedConfig } from './config.js';
import { RefusedError } from './errors.js';

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

/** PostgreSQL itself, or (pooled) PgBouncer in front of it. */
export function connectionTarget(config: ResolvedConfig, pooled = false): ConnectionTarget {
  if (pooled && !config.pool.enabled) {
    throw new RefusedError('the pool is off: enable it with pool.enabled = true (e.g. --set pool.enabled=true) and install again');
  }
  const port = pooled ? config.pool.port : config.port;
  if (config.tls) return { host: config.tls.domain, port, sslmode: 'verify-full' };
  return { host: localAddress(config.bindAddress), port, sslmode: 'disable' };
}

/** The URL; the password masked as `***` unless given. */
export function connectionUrl(config: ResolvedConfig, password?: string, pooled = false): string {
  const { host, port, sslmode } = connectionTarget(config, pooled);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const secret = password === undefined ? '***' : encodeURIComponent(password);
  return `postgresql://${config.user}:${secret}@${shownHost}:${port}/${config.database}?sslmode=${sslmode}`;
}
