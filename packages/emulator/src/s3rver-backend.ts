import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { Logger } from '@s3relay/core';

/** What s3rver itself reported about the object a request stored or posted. */
export interface StoredObject {
  /** s3rver's own name: `ObjectCreated:Put`, `ObjectCreated:Copy`, `ObjectCreated:Post`, … */
  readonly eventName: string;
  readonly key: string;
  readonly size?: number;
  readonly eTag?: string;
}

/**
 * The response header by which the s3rver process reports {@link StoredObject} to the front
 * (percent-encoded JSON); the front removes it before answering the client.
 */
export const STORED_OBJECT_HEADER = 'x-s3relay-emulator-stored';

export interface S3rverBackend {
  /** The loopback port s3rver listens on. */
  readonly port: number;
  /** Where s3rver keeps the buckets (and their multipart uploads). */
  readonly directory: string;
  bucketExists(bucket: string): Promise<boolean>;
  close(): Promise<void>;
}

export interface S3rverBackendOptions {
  readonly directory: string;
  readonly buckets: readonly string[];
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly logger: Logger;
}

/**
 * The s3rver process. s3rver runs in a plain Node child rather than in this process because:
 * - its ListObjectsV2 continuation tokens use DES, which OpenSSL 3 offers only with
 *   `--openssl-legacy-provider` (without it every truncated listing is a 500);
 * - under tsx (`node --import tsx`) koa's is-generator-function breaks on generator-function's
 *   require(esm) entry ("getGeneratorFunction is not a function").
 * s3rver emits an event after it stored an object; the child ties it to the request that caused
 * it (AsyncLocalStorage) and adds the stored size and MD5 to that request's answer as a header,
 * so the front knows them exactly even when another write to the same key follows at once.
 * The child exits when its stdin closes, so a crashed parent leaves no server behind.
 */
const CHILD_SCRIPT = `
const { AsyncLocalStorage } = require('node:async_hooks');
const http = require('node:http');
const path = require('node:path');
const [s3rverPath, optionsJson] = process.argv.slice(1);
const options = JSON.parse(optionsJson);
const S3rver = require(s3rverPath);
// s3rver accepts the access key ids of its account registry (S3RVER only, by default).
require(path.join(path.dirname(s3rverPath), 'models', 'account.js'))
  .DUMMY_ACCOUNT.createKeyPair(options.accessKeyId, options.secretAccessKey);
const app = new S3rver({
  silent: true,
  directory: options.directory,
  vhostBuckets: false,
  configureBuckets: options.buckets.map((name) => ({ name })),
});
const responses = new AsyncLocalStorage();
app.on('event', (event) => {
  const res = responses.getStore();
  const record = event.Records[0];
  if (res === undefined || record === undefined || res.headersSent) return;
  const { key, size, eTag } = record.s3.object;
  const stored = JSON.stringify({ eventName: record.eventName, key, size, eTag });
  res.setHeader(options.storedHeader, encodeURIComponent(stored));
});
// Every S3 error answer (NoSuchKey on a HEAD, ...) is an app error to koa, which would print it.
app.on('error', () => undefined);
const handle = app.callback();
const server = http.createServer((req, res) => responses.run(res, () => handle(req, res)));
// Only the front connects; it decides when connections end.
server.keepAliveTimeout = 0;
server.requestTimeout = 0;
app.configureBuckets().then(
  () => server.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: server.address().port }) + '\\n');
  }),
  (err) => {
    process.stderr.write(String((err && err.stack) || err));
    process.exit(1);
  },
);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

/** Starts s3rver in a child process on a free loopback port. */
export async function startS3rverBackend(options: S3rverBackendOptions): Promise<S3rverBackend> {
  const s3rverPath = createRequire(import.meta.url).resolve('s3rver');
  const childOptions = {
    directory: options.directory,
    buckets: options.buckets,
    accessKeyId: options.accessKeyId,
    secretAccessKey: options.secretAccessKey,
    storedHeader: STORED_OBJECT_HEADER,
  };
  // NODE_OPTIONS may carry a loader (tsx) or flags meant for the parent only.
  const { NODE_OPTIONS: _parentOnly, ...env } = process.env;
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', '-e', CHILD_SCRIPT, s3rverPath, JSON.stringify(childOptions)],
    { env, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderr = (stderr + text).slice(-4096);
  });
  let stopping = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      if (!stopping) {
        options.logger.error('s3rver process exited', { code, signal, stderr });
      }
      resolve();
    });
  });
  const stop = async () => {
    stopping = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
  };

  let port: number;
  try {
    port = await readPort(child, () => stderr);
  } catch (err) {
    await stop();
    throw err;
  }
  const agent = new http.Agent({ keepAlive: false });
  return {
    port,
    directory: options.directory,
    bucketExists: (bucket) => bucketExists(port, agent, bucket),
    async close() {
      agent.destroy();
      await stop();
    },
  };
}

function readPort(child: ChildProcessWithoutNullStreams, stderr: () => string): Promise<number> {
  return new Promise((resolve, reject) => {
    let output = '';
    const fail = (reason: string) => {
      cleanup();
      reject(new Error(`s3rver did not start: ${reason}${stderr() === '' ? '' : `: ${stderr()}`}`));
    };
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const newline = output.indexOf('\n');
      if (newline === -1) return;
      cleanup();
      try {
        resolve((JSON.parse(output.slice(0, newline)) as { port: number }).port);
      } catch {
        reject(new Error(`s3rver did not start: unexpected output ${output}`));
      }
    };
    const onExit = (code: number | null) => fail(`exited with code ${String(code)}`);
    const onError = (err: Error) => fail(err.message);
    const timer = setTimeout(() => fail(`no port within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    child.stdout.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

/** `GET /<bucket>?location`: the cheapest request s3rver answers only for an existing bucket. */
function bucketExists(port: number, agent: http.Agent, bucket: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const request = http.get(
      { host: '127.0.0.1', port, path: `/${encodeURIComponent(bucket)}?location`, agent },
      (response) => {
        response.resume();
        response.once('end', () => resolve(response.statusCode === 200));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
  });
}
