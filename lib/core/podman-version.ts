/**
 * Core: Podman versions the units target, and the one table of Quadlet keys newer than the oldest
 * supported Podman: how each is lowered to `PodmanArgs=` for an older target, or which version
 * it needs when it cannot be.
 */
import { PgQuadletError } from './errors.js';

export interface PodmanVersion {
  readonly major: number;
  readonly minor: number;
}

export const OLDEST_SUPPORTED: PodmanVersion = { major: 4, minor: 6 };
const NEWEST_MAJOR = 5;

export function parsePodmanVersion(text: string): PodmanVersion | null {
  const match = /^(\d{1,2})\.(\d{1,2})$/.exec(text);
  if (!match) return null;
  return { major: Number(match[1]), minor: Number(match[2]) };
}

export function isSupported(version: PodmanVersion): boolean {
  return atLeast(version, OLDEST_SUPPORTED) && version.major <= NEWEST_MAJOR;
}

export function atLeast(version: PodmanVersion, than: PodmanVersion): boolean {
  return version.major !== than.major ? version.major > than.major : version.minor >= than.minor;
}

export function formatVersion(version: PodmanVersion): string {
  return `${version.major}.${version.minor}`;
}

/** A `[Container]` key newer than 4.6: the version that accepts it, and the `podman run`
 * option that does the same for older versions (with the version that option needs). */
interface LowerableKey {
  readonly since: PodmanVersion;
  readonly asPodmanArg: (value: string) => string;
  readonly argSince: PodmanVersion;
}

export const LOWERABLE_KEYS = {
  ShmSize: { since: { major: 4, minor: 7 }, asPodmanArg: (value) => `--shm-size=${value}`, argSince: OLDEST_SUPPORTED },
  Notify: { since: { major: 5, minor: 0 }, asPodmanArg: (value) => `--sdnotify=${value}`, argSince: { major: 4, minor: 7 } },
  StopTimeout: { since: { major: 5, minor: 0 }, asPodmanArg: (value) => `--stop-timeout=${value}`, argSince: OLDEST_SUPPORTED },
  StopSignal: { since: { major: 5, minor: 2 }, asPodmanArg: (value) => `--stop-signal=${value}`, argSince: OLDEST_SUPPORTED },
  Memory: { since: { major: 5, minor: 5 }, asPodmanArg: (value) => `--memory=${value}`, argSince: OLDEST_SUPPORTED },
} as const satisfies Record<string, LowerableKey>;

export type LowerableKeyName = keyof typeof LOWERABLE_KEYS;

export class VersionError extends PgQuadletError {
  override readonly name = 'VersionError';
  constructor(
    readonly key: string,
    readonly needs: PodmanVersion,
  ) {
    super('PG_QUADLET_INTERNAL', `${key}= needs Podman ${formatVersion(needs)} or newer`);
  }
}

/**
 * Splits `[Container]` keys into those the target accepts and the `PodmanArgs=` that replace the
 * rest. Throws `VersionError` when the target cannot express a key at all.
 */
export function lowerKeys(
  keys: Partial<Record<LowerableKeyName, string>>,
  target: PodmanVersion,
): { keys: Partial<Record<LowerableKeyName, string>>; podmanArgs: string[] } {
  const kept: Partial<Record<LowerableKeyName, string>> = {};
  const podmanArgs: string[] = [];
  for (const name of Object.keys(LOWERABLE_KEYS) as LowerableKeyName[]) {
    const value = keys[name];
    if (value === undefined) continue;
    const rule: LowerableKey = LOWERABLE_KEYS[name];
    if (atLeast(target, rule.since)) kept[name] = value;
    else if (atLeast(target, rule.argSince)) podmanArgs.push(rule.asPodmanArg(value));
    else throw new VersionError(name, rule.argSince);
  }
  return { keys: kept, podmanArgs };
}
