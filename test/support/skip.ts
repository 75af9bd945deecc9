// Tests that need a real tool (PostgreSQL, Podman's Quadlet generator, systemd) are skipped on a
// machine that lacks it, with the reason printed once; test/run.mjs turns any skip into a failure
// under CI, where every tool is installed by test/setup.sh.
import type { Test } from 'uvu';

export function skipUnless<T extends Test<any>>(suite: T, missing: string | null, what: string): T {
  if (missing === null) return suite;
  console.log(`SKIP ${what}: ${missing}`);
  const skipped = ((name: string, fn: any) => suite.skip(name, fn)) as unknown as T;
  Object.assign(skipped, suite, { only: suite.skip, skip: suite.skip, run: suite.run });
  return skipped;
}
