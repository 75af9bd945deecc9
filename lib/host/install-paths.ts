/** Host: where installed files go, for the system's systemd or a user's, optionally under another root. */
import os from 'node:os';
import path from 'node:path';

export interface InstallPaths {
  /** Quadlet's search path: `.container` and `.volume` files. */
  readonly quadletDir: string;
  /** systemd's unit path: the backup `.service` and `.timer`. */
  readonly systemdDir: string;
  /** pg-quadlet's own files: a generated password, readable by its owner only. */
  readonly stateDir: string;
}

export interface PathOptions {
  readonly rootless: boolean;
  /** Install under this directory instead of `/` (packaging, tests). */
  readonly root?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export function installPaths({ rootless, root = '/', env = process.env }: PathOptions): InstallPaths {
  const under = (dir: string) => path.join(root, dir);
  if (!rootless) {
    return { quadletDir: under('/etc/containers/systemd'), systemdDir: under('/etc/systemd/system'), stateDir: under('/etc/pg-quadlet') };
  }
  const home = env.HOME ?? os.homedir();
  const config = env.XDG_CONFIG_HOME ?? path.join(home, '.config');
  return {
    quadletDir: under(path.join(config, 'containers/systemd')),
    systemdDir: under(path.join(config, 'systemd/user')),
    stateDir: under(path.join(config, 'pg-quadlet')),
  };
}
