/**
 * A real S3 server on loopback for integration tests: s3rver 3.7.1 with an SDK v3 client.
 *
 * What s3rver does with @aws-sdk/client-s3 3.1169 (checked by test/integration/testbed.test.ts):
 * - ETags are quoted (`"<md5 hex>"`) in PUT, HEAD, GET and listings, as on AWS. A multipart
 *   object's ETag is the MD5 of the whole object, not AWS's `"<md5 of part md5s>-<parts>"`.
 * - HEAD and GET return user metadata (`Metadata`, names lower-cased as on AWS) and the stored
 *   ContentType, ContentEncoding, ContentDisposition and CacheControl.
 * - CopyObject works (within and across buckets, MetadataDirective COPY and REPLACE), but reads
 *   `x-amz-copy-source` with decodeURI: `%2B`, `%2F`, `%26`... stay encoded, so encode a copy
 *   source with encodeURI, not encodeURIComponent.
 * - Keys with spaces, `+`, `%`, quotes and non-ASCII letters round-trip through every operation.
 *   Dot segments do not: the SDK itself turns `a/../b/./c` into `b/c` before sending.
 * - HeadObject of a missing key fails as `NotFound` (no body), GetObject as `NoSuchKey`, a
 *   missing bucket as `NoSuchBucket`; DeleteObject of a missing key succeeds, as on AWS.
 * - AbortMultipartUpload answers 405 MethodNotAllowed and ListMultipartUploads 501
 *   NotImplemented; the proxy of s3-proxy.ts answers both itself. UploadPart to an unknown upload
 *   id is accepted and CompleteMultipartUpload of one answers 500 (the proxy answers NoSuchUpload
 *   for uploads it saw aborted).
 * - Truncated ListObjectsV2 pages need DES for their continuation tokens (see CHILD_SCRIPT).
 * - SigV4 signatures are checked (credentials S3RVER/S3RVER); no versioning; `If-None-Match`
 *   on PUT is ignored.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type PutObjectCommandInput,
  type PutObjectCommandOutput,
} from '@aws-sdk/client-s3';

/** The access key id and secret s3rver accepts. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const S3_TEST_REGION = 'us-east-1';

export interface TestS3 {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  /** A client for this server; destroyed by {@link TestS3.close}. */
  readonly client: S3Client;
  /** Stops the server and deletes its directory; idempotent. */
  close(): Promise<void>;
  /** The `SOURCE_S3_*` or `DEST_S3_*` variables that point s3relay at this server. */
  env(side: 'SOURCE' | 'DEST'): Record<string, string>;
}

export interface StartS3ServerOptions {
  /** Buckets created before the server answers. @default [] */
  readonly buckets?: readonly string[];
}

// s3rver runs in a plain Node child process:
// - its ListObjectsV2 continuation tokens use DES, which OpenSSL 3 only offers with
//   --openssl-legacy-provider (without it every truncated listing is a 500);
// - under tsx (`node --import tsx`, the fault runner) koa's is-generator-function breaks on
//   generator-function's require(esm) entry ("getGeneratorFunction is not a function").
// The child exits when its stdin closes, so a crashed test process leaves no server behind.
const CHILD_SCRIPT = `
const S3rver = require(process.argv[1]);
const options = JSON.parse(process.argv[2]);
const server = new S3rver(options);
server.run().then(
  (address) => process.stdout.write(JSON.stringify({ port: address.port }) + '\\n'),
  (err) => { process.stderr.write(String(err && err.stack || err)); process.exit(1); },
);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

/** Starts s3rver on 127.0.0.1 on a free port, silent, in a fresh temporary directory. */
export async function startS3Server(options: StartS3ServerOptions = {}): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), 's3relay-s3rver-'));
  const serverOptions = {
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    // Path-style only: the host is an IP address anyway, but be explicit.
    vhostBuckets: false,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
  };
  const { NODE_OPTIONS: _ignored, ...env } = process.env;
  const child = spawn(
    process.execPath,
    [
      '--openssl-legacy-provider',
      '-e',
      CHILD_SCRIPT,
      createRequire(import.meta.url).resolve('s3rver'),
      JSON.stringify(serverOptions),
    ],
    { env, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let port: number;
  try {
    port = await readPort(child);
  } catch (err) {
    child.kill('SIGKILL');
    await rm(directory, { recursive: true, force: true });
    throw err;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const client = createTestS3Client(endpoint);
  let closing: Promise<void> | undefined;
  return {
    endpoint,
    port,
    client,
    close() {
      closing ??= (async () => {
        client.destroy();
        if (child.exitCode === null && child.signalCode === null) {
          const exited = once(child, 'exit');
          child.kill('SIGKILL');
          await exited;
        }
        await rm(directory, { recursive: true, force: true });
      })();
      return closing;
    },
    env: (side) => s3Env(side, endpoint),
  };
}

/**
 * The port the child reports once listening; rejects with its stderr when it exits first. Then
 * lets the test process exit without waiting for the child (whose stdin closes with it).
 */
async function readPort(child: ChildProcess): Promise<number> {
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const lines = createInterface({ input: child.stdout as Readable });
  try {
    return await new Promise<number>((resolve, reject) => {
      const onExit = (code: number | null) => {
        reject(new Error(`s3rver exited (${String(code)}) before listening: ${stderr.trim()}`));
      };
      child.once('exit', onExit);
      lines.once('line', (line) => {
        child.off('exit', onExit);
        try {
          resolve((JSON.parse(line) as { port: number }).port);
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
  } finally {
    lines.close();
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) {
      (stream as { unref?: () => void } | null)?.unref?.();
    }
  }
}

/**
 * An SDK client for a test S3 endpoint (s3rver, or an {@link startS3Proxy} in front of it):
 * path-style, s3rver's credentials, and checksums only when required (s3rver rejects the SDK's
 * default CRC32 trailers).
 */
export function createTestS3Client(
  endpoint: string,
  options: { readonly maxAttempts?: number } = {},
): S3Client {
  return new S3Client({
    endpoint,
    region: S3_TEST_REGION,
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...options,
  });
}

/** The s3relay environment variables for one side pointing at `endpoint`. */
export function s3Env(side: 'SOURCE' | 'DEST', endpoint: string): Record<string, string> {
  return {
    [`${side}_S3_ENDPOINT`]: endpoint,
    [`${side}_S3_REGION`]: S3_TEST_REGION,
    [`${side}_S3_ACCESS_KEY_ID`]: S3RVER_CREDENTIALS.accessKeyId,
    [`${side}_S3_SECRET_ACCESS_KEY`]: S3RVER_CREDENTIALS.secretAccessKey,
    [`${side}_S3_FORCE_PATH_STYLE`]: 'true',
  };
}

/** PutObject with the usual test defaults; `extra` adds ContentType, Metadata, and so on. */
export function putObject(
  client: S3Client,
  bucket: string,
  key: string,
  body: string | Uint8Array | Readable,
  extra: Omit<PutObjectCommandInput, 'Bucket' | 'Key' | 'Body'> = {},
): Promise<PutObjectCommandOutput> {
  return client.send(new PutObjectCommand({ ...extra, Bucket: bucket, Key: key, Body: body }));
}

/**
 * The object's bytes, or undefined when the key does not exist. Thrown for every other error,
 * a missing bucket included (that is a broken test, not an absent object).
 */
export async function getObjectBytes(
  client: S3Client,
  bucket: string,
  key: string,
): Promise<Buffer | undefined> {
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (response.Body === undefined) return Buffer.alloc(0);
    return Buffer.from(await response.Body.transformToByteArray());
  } catch (err) {
    if (isNoSuchKey(err)) return undefined;
    throw err;
  }
}

function isNoSuchKey(err: unknown): boolean {
  if (!(err instanceof S3ServiceException)) return false;
  return (
    err.name === 'NoSuchKey' ||
    (err.name !== 'NoSuchBucket' && err.$metadata.httpStatusCode === 404)
  );
}

/** Every key in the bucket (under `prefix`), following continuation tokens, in listing order. */
export async function listAllKeys(
  client: S3Client,
  bucket: string,
  prefix?: string,
): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      if (object.Key !== undefined) keys.push(object.Key);
    }
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return keys;
}

/** Hex SHA-256, for comparing object bodies without printing megabytes in a failed assertion. */
export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
