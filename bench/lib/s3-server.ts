import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'node:http';
import { S3Client } from '@aws-sdk/client-s3';
import { spawnChild } from './processes.js';

/** s3rver's only credentials. */
export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const S3_REGION = 'us-east-1';

/** An s3rver in a process of its own, so that it never shares an event loop with what is measured. */
export interface S3Server {
  readonly endpoint: string;
  readonly pid: number;
  /** The `SOURCE_S3_*` or `DEST_S3_*` variables pointing s3relay at `endpoint` (default: this server). */
  env(side: 'SOURCE' | 'DEST', endpoint?: string): Record<string, string>;
  close(): Promise<void>;
}

// As in test/helpers/s3.ts: a plain Node child, with the legacy OpenSSL provider for s3rver's DES
// continuation tokens (truncated listings fail without it).
const CHILD_SCRIPT = `
const S3rver = require(process.argv[1]);
new S3rver(JSON.parse(process.argv[2])).run().then(
  (address) => process.stdout.write(JSON.stringify({ port: address.port }) + '\\n'),
  (err) => { process.stderr.write(String(err && err.stack || err)); process.exit(1); },
);
`;

/** Starts s3rver on 127.0.0.1 on a free port in a fresh directory, with `buckets`. */
export async function startS3Server(buckets: readonly string[]): Promise<S3Server> {
  const directory = await mkdtemp(join(tmpdir(), 's3relay-bench-s3-'));
  const options = {
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: buckets.map((name) => ({ name })),
  };
  let resolvePort: (port: number) => void = () => undefined;
  const portLine = new Promise<number>((resolve) => (resolvePort = resolve));
  const child = spawnChild(
    's3rver',
    process.execPath,
    [
      '--openssl-legacy-provider',
      '-e',
      CHILD_SCRIPT,
      createRequire(import.meta.url).resolve('s3rver'),
      JSON.stringify(options),
    ],
    { onLine: (line) => resolvePort((JSON.parse(line) as { port: number }).port) },
  );
  const port = await Promise.race([
    portLine,
    child.exited.then(() => {
      throw new Error(`s3rver exited before listening:\n${child.output()}`);
    }),
  ]);
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    pid: child.pid,
    env: (side, through = endpoint) => s3Env(side, through),
    async close() {
      await child.stop(2000);
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** The s3relay variables of one side pointing at `endpoint` with s3rver's credentials. */
export function s3Env(side: 'SOURCE' | 'DEST', endpoint: string): Record<string, string> {
  return {
    [`${side}_S3_ENDPOINT`]: endpoint,
    [`${side}_S3_REGION`]: S3_REGION,
    [`${side}_S3_ACCESS_KEY_ID`]: S3_CREDENTIALS.accessKeyId,
    [`${side}_S3_SECRET_ACCESS_KEY`]: S3_CREDENTIALS.secretAccessKey,
    [`${side}_S3_FORCE_PATH_STYLE`]: 'true',
  };
}

/**
 * A plain SDK client for an s3rver endpoint: path-style, keep-alive with `maxSockets` sockets,
 * checksums only when required (s3rver rejects the SDK's CRC32 trailers), and the SDK's
 * 3 attempts per request, as s3relay's own clients.
 */
export function s3Client(endpoint: string, maxSockets = 64): S3Client {
  const agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  return new S3Client({
    endpoint,
    region: S3_REGION,
    forcePathStyle: true,
    credentials: S3_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    requestHandler: { httpAgent: agent },
  });
}
