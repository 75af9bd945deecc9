/** `url`: the connection string in Poststack's `DATABASE_URL` form, the password masked unless asked for. */
import { connectionTarget, connectionUrl } from '../core/connection.js';
import type { Context } from '../context.js';
import { Podman } from '../host/podman.js';

export interface UrlOptions {
  /** Include the real password, read from the Podman secret. */
  readonly showPassword?: boolean;
  /** Through PgBouncer (pool.enabled). */
  readonly pooled?: boolean;
}

export interface UrlResult {
  readonly url: string;
}

export async function url({ config, runner }: Context, options: UrlOptions = {}): Promise<UrlResult> {
  const pooled = options.pooled ?? false;
  connectionTarget(config, pooled);
  const password = options.showPassword ? await new Podman(runner).secretValue(config.passwordSecret) : undefined;
  return { url: connectionUrl(config, password, pooled) };
}

export function formatUrl(result: UrlResult): string {
  return result.url;
}
