/**
 * The replication ceilings: a direct SDK copy loop with `concurrency` keys in flight, no queue and
 * no reconcile. `get-put`: GetObject, then PutObject streaming its body (ContentLength known);
 * `stream`: GetObject streamed into a lib-storage multipart Upload of `partSizeMb` parts,
 * `partQueueSize` at a time (what the worker does above one part). Run as
 * `node --import tsx bench/lib/direct-copy.ts '<json options>'`; reports its elapsed time, CPU
 * and peak RSS on one result line.
 */
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { reportResult } from './node-child.js';
import { forEachPooled } from './pool.js';
import { s3Client } from './s3-server.js';

interface Options {
  readonly mode: 'get-put' | 'stream';
  readonly source: string;
  readonly dest: string;
  readonly sourceBucket: string;
  readonly destBucket: string;
  readonly keys: readonly string[];
  readonly destPrefix: string;
  readonly concurrency: number;
  readonly partSizeMb?: number;
  readonly partQueueSize?: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const partQueueSize = options.partQueueSize ?? 4;
// As the worker sizes its agents: a GET and the parts in flight per key, plus a HEAD.
const sockets = options.concurrency * (partQueueSize + 2);
const source = s3Client(options.source, sockets);
const dest = s3Client(options.dest, sockets);

const cpuBefore = process.cpuUsage();
const started = performance.now();
let bytes = 0;
let retries = 0;
/** Copies one key; the SDK cannot retry a PUT whose body is a stream, so the key is copied again. */
async function copyKey(key: string): Promise<void> {
  const got = await source.send(new GetObjectCommand({ Bucket: options.sourceBucket, Key: key }));
  const body = got.Body as Readable;
  const target = { Bucket: options.destBucket, Key: `${options.destPrefix}${key}` };
  if (options.mode === 'get-put') {
    await dest.send(
      new PutObjectCommand({
        ...target,
        Body: body,
        ContentLength: got.ContentLength,
        ContentType: got.ContentType,
      }),
    );
  } else {
    await new Upload({
      client: dest,
      params: { ...target, Body: body, ContentType: got.ContentType },
      partSize: (options.partSizeMb ?? 8) * 1024 * 1024,
      queueSize: partQueueSize,
      // s3rver cannot abort an upload: the SDK's abort would hide the error that caused it.
      leavePartsOnError: true,
    }).done();
  }
  bytes += got.ContentLength ?? 0;
}
// As the worker retries a task: a connection reset by a loaded s3rver costs the key another go.
const ATTEMPTS = 3;
await forEachPooled(options.keys, options.concurrency, async (key) => {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await copyKey(key);
      return;
    } catch (err) {
      if (attempt >= ATTEMPTS) throw err;
      retries += 1;
    }
  }
});
const elapsedMs = performance.now() - started;
const cpu = process.cpuUsage(cpuBefore);
reportResult({
  objects: options.keys.length,
  bytes,
  retries,
  elapsedMs,
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
  maxRssBytes: process.resourceUsage().maxRSS * 1024,
});
source.destroy();
dest.destroy();
