/**
 * What every command works with: the checked config and where each of its values came from, the
 * install paths, and how host commands run. Made once, at the edge, by `createContext`.
 */
import path from 'node:path';
import type { ResolvedConfig } from './core/config.js';
import type { UnitOptions } from './core/render.js';
import { loadConfig } from './host/config-sources.js';
import { installPaths, type InstallPaths } from './host/install-paths.js';
import { execaRunner, type Runner } from './host/runner.js';

export interface Context {
  readonly config: ResolvedConfig;
  /** For each dotted field set by something other than the defaults: the file, variable or flag. */
  readonly sources: Readonly<Record<string, string>>;
  /** The config file read, if any. */
  readonly configFile?: string;
  readonly paths: InstallPaths;
  readonly runner: Runner;
  /** The environment (HOME, XDG_*, the user's bus). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The command that runs this pg-quadlet (node and its script), for units that run it again. */
  readonly pgQuadlet?: readonly string[];
}

export interface ContextOptions {
  /** A config file that must exist; by default the first of ./pg-quadlet.ini and the system's (or the user's). */
  readonly configFile?: string;
  /** `field=value` overrides, over the file and the environment. */
  readonly sets?: readonly string[];
  /** The user's systemd (rootless) instead of the system's. */
  readonly user?: boolean;
  /** Install under this directory instead of `/`, and look for the default config file there. */
  readonly root?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** How host commands run; by default for real. */
  readonly runner?: Runner;
  /** Sees each host command line as it runs (`--verbose`). */
  readonly log?: (line: string) => void;
  /** The command that runs this pg-quadlet (the CLI gives its own). */
  readonly pgQuadlet?: readonly string[];
}

export function createContext(options: ContextOptions = {}): Context {
  const env = options.env ?? process.env;
  const loaded = loadConfig({
    env,
    ...(options.sets ? { sets: options.sets } : {}),
    ...(options.user ? { rootless: true } : {}),
    ...(options.configFile ? { file: options.configFile } : {}),
    ...(options.root ? { root: options.root } : {}),
  });
  const paths = installPaths({ rootless: loaded.config.rootless, env, ...(options.root ? { root: options.root } : {}) });
  return {
    config: loaded.config,
    sources: loaded.sources,
    ...(loaded.file === undefined ? {} : { configFile: loaded.file }),
    paths,
    runner: options.runner ?? execaRunner(options.log),
    env,
    ...(options.pgQuadlet ? { pgQuadlet: options.pgQuadlet } : {}),
  };
}

/** What the units need of the context: how to run pg-quadlet, and with which config file. */
export function renderOptions(context: Context): UnitOptions {
  return {
    ...(context.pgQuadlet ? { pgQuadlet: context.pgQuadlet } : {}),
    ...(context.configFile ? { configFile: path.resolve(context.configFile) } : {}),
  };
}

/** A context for a config already in hand (library users, tests): no file or environment is read. */
export function contextFor(config: ResolvedConfig, options: { runner?: Runner; root?: string; env?: Readonly<Record<string, string | undefined>> } = {}): Context {
  const env = options.env ?? process.env;
  return {
    config,
    sources: {},
    paths: installPaths({ rootless: config.rootless, env, ...(options.root ? { root: options.root } : {}) }),
    runner: options.runner ?? execaRunner(),
    env,
  };
}
