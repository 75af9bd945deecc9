// A real S3-compatible server on loopback, over TLS with a certificate made here by openssl, for
// pgBackRest's off-host repository (repo2): s3rver (an npm package) stores each object as a file
// under its directory, so a test can read what reached "the cloud".
import { execa } from 'execa';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { freePort, makeCertificates, postgresGid, postgresUid, type Sandbox } from '../image/sandbox.js';
import { waitFor } from './support.js';

const require = createRequire(import.meta.url);
const S3RVER = path.join(path.dirname(require.resolve('s3rver/package.json')), 'bin/s3rver.js');
const BUCKET = 'pg-backups';
/** s3rver takes any key pair; these are its defaults. */
const KEY = 'S3RVER';

export interface S3Server {
  port: number;
  /** Where s3rver keeps the bucket's objects (and its own metadata beside each). */
  dir: string;
  /** The environment a service gets for repo2 on this server, the keys and CA as files in the sandbox. */
  env: Record<string, string>;
  stop(): Promise<void>;
  /** Stops answering (the process stops, its port closed), as a network outage would. */
  pause(): void;
  resume(): void;
}

export async function startS3(box: Sandbox): Promise<S3Server> {
  const work = path.join(box.dir, 's3');
  const tls = path.join(work, 'tls');
  const ca = await makeCertificates(work, tls);
  const dir = path.join(work, 'objects');
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();

  // What the container gets as Podman secrets and a mounted CA file: readable by postgres only.
  const secrets = path.join(box.dir, 'secrets');
  const caFile = path.join(secrets, 's3-ca.pem');
  const keysFile = path.join(secrets, 'backup-s3-keys');
  fs.writeFileSync(caFile, ca);
  fs.writeFileSync(keysFile, `${KEY}\n${KEY}\n`, { mode: 0o400 });
  for (const file of [caFile, keysFile]) fs.chownSync(file, postgresUid(), postgresGid());

  const server = execa(process.execPath, [
    S3RVER, '--directory', dir, '--address', '127.0.0.1', '--port', String(port), '--silent',
    '--key', path.join(tls, 'privkey.pem'), '--cert', path.join(tls, 'fullchain.pem'),
    // Else s3rver reads the host name as a bucket's.
    '--no-vhost-buckets', '--configure-bucket', BUCKET,
  ], { reject: false, stdio: 'ignore' });
  await waitFor('s3rver to listen', async () => (await execa('curl', ['-s', '-o', '/dev/null', '--cacert', path.join(work, 'ca.pem'), `https://localhost:${port}/`], { reject: false })).exitCode === 0, 20_000);

  return {
    port,
    dir: path.join(dir, BUCKET),
    env: {
      PGBACKREST_REPO2_TYPE: 's3',
      // pgBackRest 2.45 checks the certificate against the host name and ignores IP entries.
      PGBACKREST_REPO2_S3_ENDPOINT: 'localhost',
      PGBACKREST_REPO2_STORAGE_PORT: String(port),
      PGBACKREST_REPO2_S3_BUCKET: BUCKET,
      PGBACKREST_REPO2_S3_REGION: 'us-east-1',
      PGBACKREST_REPO2_S3_URI_STYLE: 'path',
      PGBACKREST_REPO2_STORAGE_CA_FILE: caFile,
      POSTGRES_BACKUP_S3_KEYS_FILE: keysFile,
      // A TLS or connection error is retried until this timeout: short, so an outage shows at once.
      PGBACKREST_IO_TIMEOUT: '5',
    },
    async stop() {
      server.kill('SIGKILL');
      await server;
    },
    pause() {
      server.kill('SIGSTOP');
    },
    resume() {
      server.kill('SIGCONT');
    },
  };
}

/** Every file under `dir`, recursively. */
export function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).map((f) => path.join(dir, f)).filter((f) => fs.statSync(f).isFile());
}
