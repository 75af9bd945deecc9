import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatUpdate, update, RollbackFailedError } from '../../lib/commands/update.js';
import { imageBuild } from '../../lib/commands/image.js';
import { contextFor } from '../../lib/context.js';
import { isPgQuadletError, resolveConfig, type PostgresServiceInput } from '../../lib/index.js';
import { FakeHost } from '../support/fake-host.js';

const IMAGE = 'localhost/postgres-debian:15';
const ONE = '1'.repeat(64);
const TWO = '2'.repeat(64);

function setup(input: PostgresServiceInput = {}) {
  const host = new FakeHost();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-quadlet-update-'));
  const context = contextFor(resolveConfig(input), { runner: host, root, env: { HOME: '/home/ann' } });
  return { host, context };
}

test('update keeps the image as -previous, builds every layer again with a newer base, restarts and reports the versions before and after', async () => {
  const { host, context } = setup();
  host.running('poststack-postgres.service');
  const result = await update(context);
  assert.equal(host.mutatingCalls().map((call) => call.replace(/ --file=.*/, '')), [
    `podman tag ${IMAGE} ${IMAGE}-previous`,
    `podman build --tag=${IMAGE} --build-arg=BASE_IMAGE=docker.io/library/debian:bookworm-slim --build-arg=PG_MAJOR=15 --build-arg=CERTGROUP_GID=990 --pull=newer --no-cache`,
    'systemctl restart poststack-postgres.service',
  ]);
  assert.is(host.images.get(`${IMAGE}-previous`), ONE);
  assert.is(result.before.versions.postgres, '15.14-0+deb12u1');
  assert.is(result.built?.versions.postgres, '15.14-0+deb12u2');
  assert.equal(result.built?.versions.pgbouncer, '1.18.0');
  assert.equal(result.restarted, ['poststack-postgres.service']);
  assert.is(result.rolledBack, undefined);
  const text = formatUpdate(result);
  assert.match(text, /^before: PostgreSQL 15\.14-0\+deb12u1, PgBouncer 1\.18\.0, pgBackRest 2\.45 \(111111111111\)\nbuilt:  PostgreSQL 15\.14-0\+deb12u2/);
  assert.match(text, /run the new image, healthy\. The previous one is kept as localhost\/postgres-debian:15-previous\.$/);
});

test('a new image that does not become healthy is rolled back: the previous image takes the tag back and the service restarts onto it', async () => {
  const { host, context } = setup();
  host.running('poststack-postgres.service');
  // Unhealthy while the new image runs; healthy again once the old one is back.
  const podman = host.run.bind(host);
  host.run = async (file, args, options) => {
    if (file === 'podman' && args[0] === 'inspect') host.health = host.images.get(IMAGE) === ONE ? 'healthy' : 'unhealthy';
    return podman(file, args, options);
  };
  host.failures.set('systemctl restart', 'Job for poststack-postgres.service failed because the control process exited with error code.');
  const attempts: string[] = [];
  const restart = host.run;
  host.run = async (file, args, options) => {
    if (file === 'systemctl' && args[0] === 'restart') {
      attempts.push(host.images.get(IMAGE) ?? '');
      if (attempts.length === 2) host.failures.delete('systemctl restart');
    }
    return restart(file, args, options);
  };
  const result = await update(context);
  assert.equal(attempts, [TWO, ONE], 'the second restart runs the previous image');
  assert.is(host.images.get(IMAGE), ONE);
  assert.is(host.images.get(`${IMAGE}-failed`), TWO);
  assert.match(result.rolledBack?.reason ?? '', /control process exited with error code/);
  assert.match(formatUpdate(result), /Rolled back: the new image did not become healthy .*\nposts.*run the previous image again, healthy; the new one is kept as localhost\/postgres-debian:15-failed to look into\./);
});

test('a rollback that cannot start either says the service is down, where both images are and where to look', async () => {
  const { host, context } = setup();
  host.running('poststack-postgres.service');
  host.failures.set('systemctl restart', 'Job failed.');
  const error = await update(context).catch((caught: unknown) => caught);
  assert.instance(error, RollbackFailedError);
  assert.match((error as Error).message, /poststack-postgres\.service is down\. The previous image is localhost\/postgres-debian:15-previous, the new one localhost\/postgres-debian:15-failed; see journalctl -u poststack-postgres\.service/);
});

test('a build that fails changes nothing: the service is not restarted and the image is the one it runs', async () => {
  const { host, context } = setup();
  host.running('poststack-postgres.service');
  host.failures.set('podman build', 'Error: exit status 100');
  const error = await update(context).catch((caught: unknown) => caught);
  assert.match((error as Error).message, /^the build failed, nothing changed: poststack-postgres still runs 111111111111 /);
  assert.ok(!host.mutatingCalls().some((call) => call.startsWith('systemctl')));
  assert.is(host.images.get(IMAGE), ONE);
});

test('with the service stopped, update builds only; --dry-run changes nothing; a registry image is refused', async () => {
  const { host, context } = setup();
  const stopped = await update(context);
  assert.equal(stopped.restarted, []);
  assert.match(formatUpdate(stopped), /the service is stopped and takes the new image at its next start/);

  const dry = setup();
  dry.host.running('poststack-postgres.service');
  const planned = await update(dry.context, { dryRun: true });
  assert.equal(dry.host.mutatingCalls(), []);
  assert.equal(planned.actions.length, 3);

  const registry = setup({ image: 'ghcr.io/example/postgres:15' });
  const refused = await update(registry.context).catch((caught: unknown) => caught);
  assert.ok(isPgQuadletError(refused, 'PG_QUADLET_REFUSED'));
  assert.match((refused as Error).message, /is a registry's image, which pg-quadlet does not build: pull it with podman pull/);
  assert.equal(host.mutatingCalls().filter((call) => call.startsWith('podman build')).length, 1);
});

test('image build builds on request, from another directory when asked, with a newer base on --pull', async () => {
  const { host, context } = setup();
  const result = await imageBuild(context, { pull: true, from: '/srv/my-image' });
  assert.equal(host.mutatingCalls(), [
    `podman build --tag=${IMAGE} --build-arg=BASE_IMAGE=docker.io/library/debian:bookworm-slim --build-arg=PG_MAJOR=15 --build-arg=CERTGROUP_GID=990 --pull=newer --file=/srv/my-image/Containerfile /srv/my-image`,
  ]);
  assert.is(result.before, ONE);
  assert.is(result.after, TWO);
});

test.run();
