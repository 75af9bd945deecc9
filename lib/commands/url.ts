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

export function connectionTarget(config: PostgresServiceConfig): ConnectionTarget {
  if (config.tls) return { host: config.tls.domain, port: config.port, sslmode: 'verify-full' };
  return { host: localAddress(config.bindAddress), port: config.port, sslmode: 'disable' };
}

export function connectionUrl(config: PostgresServiceConfig, password?: string): string {
  const { host, port, sslmode } = connectionTarget(config);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const secret = password === undefined ? '***' : encodeURIComponent(password);
  return `postgresql://${config.user}:${secret}@${shownHost}:${port}/${config.database}?sslmode=${sslmode}`;
}

/** The URL, with the real password read from the Podman secret when asked for. */
export async function url(config: PostgresServiceConfig, runner: Runner, showPassword: boolean): Promise<string> {
  if (!showPassword) return connectionUrl(config);
  return connectionUrl(config, await new Podman(runner).secretValue(config.passwordSecret));
}
