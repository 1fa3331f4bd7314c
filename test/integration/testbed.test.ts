import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import amqp from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { declareTopology } from '@s3relay/core/amqp';
import { eventually } from '../helpers/eventually.js';
import {
  TESTBED_BROKER_ENV,
  amqpAnswers,
  closeConnections,
  connectAmqp,
  deleteQueuesWithPrefix,
  drainQueue,
  peekQueue,
  publishToQueue,
  queueDepth,
  rabbitUrl,
  uniquePrefix,
} from '../helpers/rabbit.js';
import { startS3Proxy, type S3Proxy } from '../helpers/s3-proxy.js';
import {
  createTestS3Client,
  getObjectBytes,
  listAllKeys,
  putObject,
  sha256,
  startS3Server,
  type TestS3,
} from '../helpers/s3.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const MiB = 1024 * 1024;

/** Deterministic, non-repeating-per-part content, so a misplaced part changes the hash. */
function bytes(size: number): Buffer {
  const buffer = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) buffer.writeUInt32LE(i, Math.min(i, size - 4));
  return buffer;
}

describe('eventually', () => {
  test('resolves with the value once fn stops throwing', async () => {
    let calls = 0;
    const value = await eventually(
      () => {
        calls += 1;
        if (calls < 3) throw new Error('not yet');
        return 'done';
      },
      { intervalMs: 5 },
    );
    expect(value).toBe('done');
    expect(calls).toBe(3);
  });

  test('gives up after timeoutMs with the last error and the message', async () => {
    const started = performance.now();
    let calls = 0;
    const failure = eventually(
      () => {
        calls += 1;
        throw new Error(`attempt ${calls}`);
      },
      { timeoutMs: 200, intervalMs: 20, message: 'queue drained' },
    );
    await expect(failure).rejects.toThrow(
      /^queue drained within 200 ms \(\d+ attempts\): attempt \d+$/,
    );
    expect(performance.now() - started).toBeGreaterThanOrEqual(180);
    expect(calls).toBeGreaterThan(3);
  });

  test('an attempt that hangs does not outlive the deadline', async () => {
    const started = performance.now();
    await expect(
      eventually(() => new Promise(() => undefined), { timeoutMs: 150 }),
    ).rejects.toThrow(/still running at the deadline/);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('global setup', () => {
  test('test workers inherit the broker the global setup settled on, and it answers', async () => {
    expect(process.env[TESTBED_BROKER_ENV]).toMatch(/^(external|private)$/);
    expect(await amqpAnswers(rabbitUrl())).toBe(true);
  });
});

describe('s3rver through the AWS SDK', () => {
  let s3: TestS3;

  beforeAll(async () => {
    s3 = await startS3Server({ buckets: ['src', 'dst'] });
  });

  afterAll(async () => {
    await s3?.close();
  });

  test('env() points s3relay at the server', () => {
    expect(s3.endpoint).toBe(`http://127.0.0.1:${s3.port}`);
    expect(s3.env('SOURCE')).toEqual({
      SOURCE_S3_ENDPOINT: s3.endpoint,
      SOURCE_S3_REGION: 'us-east-1',
      SOURCE_S3_ACCESS_KEY_ID: 'S3RVER',
      SOURCE_S3_SECRET_ACCESS_KEY: 'S3RVER',
      SOURCE_S3_FORCE_PATH_STYLE: 'true',
    });
    expect(Object.keys(s3.env('DEST'))).toEqual([
      'DEST_S3_ENDPOINT',
      'DEST_S3_REGION',
      'DEST_S3_ACCESS_KEY_ID',
      'DEST_S3_SECRET_ACCESS_KEY',
      'DEST_S3_FORCE_PATH_STYLE',
    ]);
  });

  test('put, head, get, delete with headers and user metadata; ETags quoted', async () => {
    const put = await putObject(s3.client, 'src', 'docs/a.txt', 'hello', {
      ContentType: 'text/plain',
      ContentEncoding: 'identity',
      ContentDisposition: 'attachment; filename="a.txt"',
      CacheControl: 'max-age=60',
      Metadata: { Owner: 'Team-A', 'x-trace': '1' },
    });
    expect(put.ETag).toBe('"5d41402abc4b2a76b9719d911017c592"');

    const head = await s3.client.send(new HeadObjectCommand({ Bucket: 'src', Key: 'docs/a.txt' }));
    expect(head).toMatchObject({
      ETag: put.ETag,
      ContentLength: 5,
      ContentType: 'text/plain',
      ContentEncoding: 'identity',
      ContentDisposition: 'attachment; filename="a.txt"',
      CacheControl: 'max-age=60',
      // Names come back lower-cased, values as sent.
      Metadata: { owner: 'Team-A', 'x-trace': '1' },
    });
    expect(head.LastModified).toBeInstanceOf(Date);

    const get = await s3.client.send(new GetObjectCommand({ Bucket: 'src', Key: 'docs/a.txt' }));
    expect(get.ETag).toBe(put.ETag);
    expect(get.Metadata).toEqual({ owner: 'Team-A', 'x-trace': '1' });
    expect(await get.Body?.transformToString()).toBe('hello');

    await s3.client.send(new DeleteObjectCommand({ Bucket: 'src', Key: 'docs/a.txt' }));
    expect(await getObjectBytes(s3.client, 'src', 'docs/a.txt')).toBeUndefined();
    // Deleting a missing key succeeds, as on AWS.
    await s3.client.send(new DeleteObjectCommand({ Bucket: 'src', Key: 'docs/a.txt' }));
    await expect(
      s3.client.send(new HeadObjectCommand({ Bucket: 'src', Key: 'docs/a.txt' })),
    ).rejects.toMatchObject({ name: 'NotFound', $metadata: { httpStatusCode: 404 } });
    await expect(getObjectBytes(s3.client, 'no-such-bucket', 'k')).rejects.toMatchObject({
      name: 'NoSuchBucket',
    });
  });

  test('keys with spaces, plus, percent and non-ASCII letters round-trip', async () => {
    const keys = [
      'with space.txt',
      'plus+sign',
      'percent%20not-a-space',
      'ünï/кей/😀 ok',
      "q'(x)!*~",
    ];
    for (const key of keys) await putObject(s3.client, 'src', `keys/${key}`, key);
    for (const key of keys) {
      expect((await getObjectBytes(s3.client, 'src', `keys/${key}`))?.toString()).toBe(key);
      const head = await s3.client.send(
        new HeadObjectCommand({ Bucket: 'src', Key: `keys/${key}` }),
      );
      expect(head.ContentLength).toBe(Buffer.byteLength(key));
    }
    expect((await listAllKeys(s3.client, 'src', 'keys/')).sort()).toEqual(
      keys.map((key) => `keys/${key}`).sort(),
    );
    await s3.client.send(
      new DeleteObjectsCommand({
        Bucket: 'src',
        Delete: { Objects: keys.map((key) => ({ Key: `keys/${key}` })) },
      }),
    );
    expect(await listAllKeys(s3.client, 'src', 'keys/')).toEqual([]);
  });

  test('the SDK itself collapses dot segments in keys before sending', async () => {
    await putObject(s3.client, 'src', 'dots/a/../b/./c', 'x');
    expect(await listAllKeys(s3.client, 'src', 'dots/')).toEqual(['dots/b/c']);
  });

  test('multipart upload of 12 MiB through lib-storage keeps bytes and metadata', async () => {
    const body = bytes(12 * MiB);
    const key = 'big/ü+ x.bin';
    const done = await new Upload({
      client: s3.client,
      params: {
        Bucket: 'src',
        Key: key,
        Body: body,
        ContentType: 'application/x-test',
        Metadata: { m: '1' },
      },
      partSize: 5 * MiB,
      queueSize: 2,
    }).done();
    // s3rver's multipart ETag is the MD5 of the whole object, not AWS's "<md5 of md5s>-<parts>".
    expect(done.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: 'src', Key: key }));
    expect(head).toMatchObject({
      ContentLength: 12 * MiB,
      ContentType: 'application/x-test',
      Metadata: { m: '1' },
    });
    expect(sha256((await getObjectBytes(s3.client, 'src', key)) ?? Buffer.alloc(0))).toBe(
      sha256(body),
    );
  });

  test('CopyObject works within and across buckets, with COPY and REPLACE metadata', async () => {
    await putObject(s3.client, 'src', 'copy/me', 'payload', {
      ContentType: 'text/x-a',
      Metadata: { a: '1' },
    });
    await s3.client.send(
      new CopyObjectCommand({ Bucket: 'dst', Key: 'copied', CopySource: 'src/copy/me' }),
    );
    await s3.client.send(
      new CopyObjectCommand({
        Bucket: 'src',
        Key: 'copy/replaced',
        CopySource: 'src/copy/me',
        MetadataDirective: 'REPLACE',
        Metadata: { b: '2' },
      }),
    );
    const copied = await s3.client.send(new HeadObjectCommand({ Bucket: 'dst', Key: 'copied' }));
    expect(copied).toMatchObject({ ContentType: 'text/x-a', Metadata: { a: '1' } });
    const replaced = await s3.client.send(
      new HeadObjectCommand({ Bucket: 'src', Key: 'copy/replaced' }),
    );
    expect(replaced.Metadata).toEqual({ b: '2' });
    expect((await getObjectBytes(s3.client, 'dst', 'copied'))?.toString()).toBe('payload');
  });

  test('truncated ListObjectsV2 pages follow continuation tokens', async () => {
    for (let i = 0; i < 5; i += 1) await putObject(s3.client, 'dst', `page/${i}`, String(i));
    const keys: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await s3.client.send(
        new ListObjectsV2Command({
          Bucket: 'dst',
          Prefix: 'page/',
          MaxKeys: 2,
          ContinuationToken: token,
        }),
      );
      pages += 1;
      keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    expect(pages).toBe(3);
    expect(keys).toEqual(['page/0', 'page/1', 'page/2', 'page/3', 'page/4']);
    expect(await listAllKeys(s3.client, 'dst', 'page/')).toEqual(keys);
  });

  test('s3rver itself implements neither AbortMultipartUpload nor ListMultipartUploads', async () => {
    const { UploadId } = await s3.client.send(
      new CreateMultipartUploadCommand({ Bucket: 'src', Key: 'mpu/raw' }),
    );
    await expect(
      s3.client.send(new AbortMultipartUploadCommand({ Bucket: 'src', Key: 'mpu/raw', UploadId })),
    ).rejects.toMatchObject({ name: 'MethodNotAllowed', $metadata: { httpStatusCode: 405 } });
    await expect(
      s3.client.send(new ListMultipartUploadsCommand({ Bucket: 'src' })),
    ).rejects.toMatchObject({ name: 'NotImplemented', $metadata: { httpStatusCode: 501 } });
  });

  test('close() stops the server', async () => {
    const other = await startS3Server({ buckets: ['b'] });
    const client = createTestS3Client(other.endpoint, { maxAttempts: 1 });
    await putObject(client, 'b', 'k', 'v');
    await other.close();
    await other.close();
    await expect(putObject(client, 'b', 'k', 'v')).rejects.toThrow(
      /ECONNREFUSED|socket hang up|ECONNRESET/,
    );
    client.destroy();
  });
});

describe('RabbitMQ helpers', () => {
  const url = rabbitUrl();
  let prefix: string;

  afterEach(async () => {
    await deleteQueuesWithPrefix(url, prefix);
  });

  test('uniquePrefix gives distinct names valid for AMQP_PREFIX', () => {
    prefix = uniquePrefix('my label/ü');
    expect(prefix).toMatch(/^t-my-label-[0-9a-f]{8}$/);
    expect(uniquePrefix('my label/ü')).not.toBe(prefix);
    expect(uniquePrefix()).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$/);
  });

  test('deleteQueuesWithPrefix deletes the topology and extra queues of the prefix only', async () => {
    prefix = uniquePrefix('delete');
    const connection = await connectAmqp(url);
    const channel = await connection.createChannel();
    const names = await declareTopology(connection, {
      prefix,
      retryDelaysMs: [5000, 60_000],
      deliveryLimit: 5,
      quorumGroupSize: 3,
    });
    await channel.assertQueue(`${prefix}.extra`, { durable: true });
    await channel.assertQueue(`${prefix}x.other`, { durable: true });
    await connection.close();

    await deleteQueuesWithPrefix(url, prefix);

    for (const queue of [
      names.tasks,
      names.dlq,
      `${prefix}.retry.5s`,
      `${prefix}.retry.1m`,
      `${prefix}.extra`,
    ]) {
      await expect(queueDepth(url, queue), queue).rejects.toThrow(/NOT_FOUND/);
    }
    expect(await queueDepth(url, `${prefix}x.other`)).toBe(0);
    await deleteQueuesWithPrefix(url, `${prefix}x`);
    await expect(queueDepth(url, `${prefix}x.other`)).rejects.toThrow(/NOT_FOUND/);
  });

  test('publishToQueue, queueDepth, peekQueue (requeues) and drainQueue (consumes)', async () => {
    prefix = uniquePrefix('queue');
    const queue = `${prefix}.dlq`;
    const connection = await connectAmqp(url);
    await (await connection.createChannel()).assertQueue(queue, { durable: true });
    await connection.close();
    await publishToQueue(url, queue, [
      'plain',
      {
        content: '{"a":1}',
        options: { contentType: 'application/json', headers: { 'x-s3relay-attempt': 2 } },
      },
    ]);

    expect(await queueDepth(url, queue)).toBe(2);
    const peeked = await peekQueue(url, queue);
    expect(peeked.map((m) => m.content.toString())).toEqual(['plain', '{"a":1}']);
    await eventually(async () => expect(await queueDepth(url, queue)).toBe(2));
    const drained = await drainQueue(url, queue);
    expect(drained).toHaveLength(2);
    expect(drained[0]?.fields.redelivered).toBe(true);
    expect(drained[1]?.properties).toMatchObject({
      contentType: 'application/json',
      deliveryMode: 2,
      headers: { 'x-s3relay-attempt': 2 },
    });
    expect(await queueDepth(url, queue)).toBe(0);
  });

  test('closeConnections force-closes the connections named like the filter', async () => {
    prefix = uniquePrefix('close');
    const victim = await amqp.connect(url, {
      clientProperties: { connection_name: `worker ${prefix}` },
    });
    victim.on('error', () => undefined);
    const bystander = await amqp.connect(url, {
      clientProperties: { connection_name: 'bystander' },
    });
    const closed = once(victim, 'close');

    expect(await closeConnections({ nameContains: prefix })).toBe(1);

    const [error] = (await closed) as [Error | undefined];
    expect(error?.message).toMatch(/CONNECTION_FORCED/);
    expect(await closeConnections({ nameContains: prefix })).toBe(0);
    await (await bystander.createChannel()).close();
    await bystander.close();
  });
});

describe('TCP proxy', () => {
  const url = rabbitUrl();
  let proxy: TcpProxy;

  beforeAll(async () => {
    proxy = await startTcpProxy({
      port: Number(new URL(url).port || 5672),
      host: new URL(url).hostname,
    });
  });

  afterEach(() => {
    proxy.setMode('pass');
    proxy.setDelay(0);
    proxy.release();
    proxy.resetAll();
  });

  afterAll(async () => {
    await proxy?.close();
  });

  test('url() swaps host and port and keeps the rest', () => {
    expect(proxy.url('amqp://guest:guest@127.0.0.1:5672/vhost?heartbeat=5')).toBe(
      `amqp://guest:guest@127.0.0.1:${proxy.port}/vhost?heartbeat=5`,
    );
    expect(proxy.url('amqp://u:p@localhost')).toBe(`amqp://u:p@127.0.0.1:${proxy.port}`);
  });

  test('passes AMQP traffic and counts connections', async () => {
    const connection = await connectAmqp(proxy.url(url));
    const channel = await connection.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    expect(queue).toMatch(/^amq\.gen-/);
    expect(proxy.connections).toBe(1);
    await connection.close();
    await eventually(() => expect(proxy.connections).toBe(0));
  });

  test('setDelay holds every chunk in both directions, in order', async () => {
    const connection = await connectAmqp(proxy.url(url));
    const channel = await connection.createChannel();
    const queue = uniquePrefix('delay');
    await channel.assertQueue(queue, { exclusive: true });
    const roundTrip = async () => {
      const started = performance.now();
      await channel.checkQueue(queue);
      return performance.now() - started;
    };
    const baseline = await roundTrip();
    proxy.setDelay(150);
    const delayed = await roundTrip();
    // Request and reply are each held 150 ms.
    expect(delayed).toBeGreaterThanOrEqual(290);
    expect(delayed - baseline).toBeGreaterThanOrEqual(250);
    // Ordering: a burst of publishes and its deliveries cross the proxy in order.
    const count = 50;
    for (let i = 0; i < count; i += 1) channel.sendToQueue(queue, Buffer.from(String(i)));
    const received: string[] = [];
    await new Promise<void>((resolve) => {
      void channel.consume(
        queue,
        (message) => {
          if (message === null) return;
          received.push(message.content.toString());
          if (received.length === count) resolve();
        },
        { noAck: true },
      );
    });
    expect(received).toEqual(Array.from({ length: count }, (_, i) => String(i)));
    proxy.setDelay(0);
    await connection.close();
  });

  test('hold keeps back one direction until release', async () => {
    const connection = await connectAmqp(proxy.url(url));
    const channel = await connection.createChannel();
    const queue = uniquePrefix('hold');
    await channel.assertQueue(queue, { exclusive: true });
    proxy.hold('down');
    let answered = false;
    const answer = channel.checkQueue(queue).then((ok) => {
      answered = true;
      return ok.queue;
    });
    // The broker's reply reached the proxy, which keeps it.
    await eventually(() => expect(proxy.pendingBytes('down')).toBeGreaterThan(0));
    expect(answered).toBe(false);
    expect(proxy.pendingBytes('up')).toBe(0);
    proxy.release();
    expect(await answer).toBe(queue);
    expect(proxy.pendingBytes('down')).toBe(0);
    await connection.close();
  });

  test("'drop' black-holes new and open connections", async () => {
    const open = await connectAmqp(proxy.url(url));
    open.on('error', () => undefined);
    const channel = await open.createChannel();
    channel.on('error', () => undefined);
    proxy.setMode('drop');

    const started = performance.now();
    await expect(connectAmqp(proxy.url(url), 1000)).rejects.toThrow();
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);
    const answer = channel.checkQueue('amq.rabbitmq.trace').then(
      () => 'answered',
      () => 'failed',
    );
    // Asserts an absence: nothing answers for a second.
    expect(await Promise.race([answer, sleep(1000).then(() => 'silent')])).toBe('silent');
    expect(proxy.connections).toBeGreaterThanOrEqual(1);
    const closed = new Promise((resolve) => open.once('close', resolve));
    proxy.resetAll();
    await closed;
  });

  test("'reset' resets open connections and refuses new ones; resetAll resets now", async () => {
    const first = await connectAmqp(proxy.url(url));
    const firstError = once(first, 'error');
    proxy.resetAll();
    const [resetError] = (await firstError) as [Error];
    expect(resetError.message).toMatch(/ECONNRESET/);

    const second = await connectAmqp(proxy.url(url));
    const secondError = once(second, 'error');
    proxy.setMode('reset');
    expect(((await secondError) as [Error])[0].message).toMatch(/ECONNRESET/);
    await expect(connectAmqp(proxy.url(url), 1000)).rejects.toThrow(/ECONNRESET|socket/i);
    expect(proxy.connections).toBe(0);

    proxy.setMode('pass');
    const third = await connectAmqp(proxy.url(url));
    await third.close();
  });
});

describe('S3 proxy', () => {
  let s3: TestS3;
  let proxy: S3Proxy;
  let client: S3Client;

  beforeAll(async () => {
    s3 = await startS3Server({ buckets: ['bkt'] });
    proxy = await startS3Proxy({ endpoint: s3.endpoint });
    client = createTestS3Client(proxy.endpoint);
  });

  afterEach(() => {
    proxy.clearFaults();
    proxy.clearOperations();
  });

  afterAll(async () => {
    client?.destroy();
    await proxy?.close();
    await s3?.close();
  });

  test('records the operations of SDK calls, keys decoded', async () => {
    const key = 'rec/ü +%.txt';
    await putObject(client, 'bkt', key, 'data');
    await client.send(new HeadObjectCommand({ Bucket: 'bkt', Key: key }));
    await getObjectBytes(client, 'bkt', key);
    await client.send(
      new CopyObjectCommand({
        Bucket: 'bkt',
        Key: 'rec/copy',
        // s3rver reads the copy source with decodeURI: %2B, %2F, %26 ... stay encoded.
        CopySource: `bkt/${encodeURI(key)}`,
      }),
    );
    await listAllKeys(client, 'bkt', 'rec/');
    await client.send(new DeleteObjectCommand({ Bucket: 'bkt', Key: 'rec/copy' }));
    await client.send(
      new DeleteObjectsCommand({ Bucket: 'bkt', Delete: { Objects: [{ Key: key }] } }),
    );
    await new Upload({
      client,
      params: { Bucket: 'bkt', Key: 'rec/big', Body: bytes(11 * MiB) },
      partSize: 5 * MiB,
    }).done();

    const seen = proxy.operations.map(({ op, method, bucket, key: k, status }) => ({
      op,
      method,
      bucket,
      key: k,
      status,
    }));
    expect(seen).toEqual([
      { op: 'PutObject', method: 'PUT', bucket: 'bkt', key, status: 200 },
      { op: 'HeadObject', method: 'HEAD', bucket: 'bkt', key, status: 200 },
      { op: 'GetObject', method: 'GET', bucket: 'bkt', key, status: 200 },
      { op: 'CopyObject', method: 'PUT', bucket: 'bkt', key: 'rec/copy', status: 200 },
      { op: 'ListObjectsV2', method: 'GET', bucket: 'bkt', key: undefined, status: 200 },
      { op: 'DeleteObject', method: 'DELETE', bucket: 'bkt', key: 'rec/copy', status: 204 },
      { op: 'DeleteObjects', method: 'POST', bucket: 'bkt', key: undefined, status: 200 },
      { op: 'CreateMultipartUpload', method: 'POST', bucket: 'bkt', key: 'rec/big', status: 200 },
      { op: 'UploadPart', method: 'PUT', bucket: 'bkt', key: 'rec/big', status: 200 },
      { op: 'UploadPart', method: 'PUT', bucket: 'bkt', key: 'rec/big', status: 200 },
      { op: 'UploadPart', method: 'PUT', bucket: 'bkt', key: 'rec/big', status: 200 },
      { op: 'CompleteMultipartUpload', method: 'POST', bucket: 'bkt', key: 'rec/big', status: 200 },
    ]);
    const parts = proxy.operations.filter((o) => o.op === 'UploadPart');
    expect(parts.map((o) => o.partNumber).sort()).toEqual([1, 2, 3]);
    const uploadId = proxy.operations.find((o) => o.op === 'CompleteMultipartUpload')?.uploadId;
    expect(uploadId).toMatch(/^[0-9a-f]{32}$/);
    expect(parts.every((o) => o.uploadId === uploadId)).toBe(true);
    expect(proxy.operations.every((o) => o.durationMs >= 0 && o.startedAt > 0)).toBe(true);
    expect(proxy.openMultipartUploads()).toEqual([]);
    expect(proxy.multipartUploads.find((u) => u.uploadId === uploadId)?.state).toBe('completed');
    expect(sha256((await getObjectBytes(s3.client, 'bkt', 'rec/big')) ?? '')).toBe(
      sha256(bytes(11 * MiB)),
    );
  });

  test('a 503 SlowDown reaches the SDK as SlowDown; `times` limits it; the SDK retries it', async () => {
    const noRetry = createTestS3Client(proxy.endpoint, { maxAttempts: 1 });
    try {
      proxy.addFault({
        op: 'PutObject',
        key: /^slow\//,
        action: { type: 'status', status: 503 },
        times: 1,
      });
      await expect(putObject(noRetry, 'bkt', 'slow/a', 'x')).rejects.toMatchObject({
        name: 'SlowDown',
        $metadata: { httpStatusCode: 503 },
      });
      await putObject(noRetry, 'bkt', 'slow/a', 'x');
      expect(proxy.operations.map((o) => [o.status, o.fault])).toEqual([
        [503, 'status'],
        [200, undefined],
      ]);

      proxy.clearOperations();
      proxy.addFault({ op: 'PutObject', action: { type: 'status', status: 503 }, times: 1 });
      await putObject(client, 'bkt', 'slow/b', 'x');
      expect(proxy.operations.map((o) => o.status)).toEqual([503, 200]);
    } finally {
      noRetry.destroy();
    }
  });

  test('status faults map to SDK errors; key filters and probability 0 do not match', async () => {
    const noRetry = createTestS3Client(proxy.endpoint, { maxAttempts: 1 });
    try {
      await putObject(noRetry, 'bkt', 'err/k', 'x');
      const remove = proxy.addFault({
        op: 'GetObject',
        key: 'err/k',
        action: { type: 'status', status: 403 },
      });
      proxy.addFault({ op: 'HeadObject', action: { type: 'status', status: 404 } });
      proxy.addFault({ op: '*', action: { type: 'status', status: 500 }, probability: 0 });
      await expect(
        noRetry.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'err/k' })),
      ).rejects.toMatchObject({
        name: 'AccessDenied',
        $metadata: { httpStatusCode: 403 },
      });
      await expect(
        noRetry.send(new HeadObjectCommand({ Bucket: 'bkt', Key: 'err/k' })),
      ).rejects.toMatchObject({
        name: 'NotFound',
      });
      remove();
      expect((await getObjectBytes(noRetry, 'bkt', 'err/k'))?.toString()).toBe('x');
      proxy.addFault({
        op: 'GetObject',
        action: { type: 'status', status: 500, code: 'InternalError' },
      });
      await expect(getObjectBytes(noRetry, 'bkt', 'err/k')).rejects.toMatchObject({
        name: 'InternalError',
      });
    } finally {
      noRetry.destroy();
    }
  });

  test('answers ListMultipartUploads and AbortMultipartUpload; parts after abort get NoSuchUpload', async () => {
    const create = (key: string) =>
      client.send(new CreateMultipartUploadCommand({ Bucket: 'bkt', Key: key }));
    const first = await create('mpu/a b+ü');
    const second = await create('mpu/c');
    await client.send(
      new UploadPartCommand({
        Bucket: 'bkt',
        Key: 'mpu/c',
        UploadId: second.UploadId,
        PartNumber: 1,
        Body: 'p',
      }),
    );

    const listed = await client.send(
      new ListMultipartUploadsCommand({ Bucket: 'bkt', Prefix: 'mpu/' }),
    );
    expect(listed.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([
      ['mpu/a b+ü', first.UploadId],
      ['mpu/c', second.UploadId],
    ]);
    expect(listed.Uploads?.[0]?.Initiated).toBeInstanceOf(Date);
    expect(listed.IsTruncated).toBe(false);
    const paged = await client.send(
      new ListMultipartUploadsCommand({ Bucket: 'bkt', MaxUploads: 1 }),
    );
    expect(paged).toMatchObject({
      IsTruncated: true,
      NextKeyMarker: 'mpu/a b+ü',
      NextUploadIdMarker: first.UploadId,
    });
    const rest = await client.send(
      new ListMultipartUploadsCommand({
        Bucket: 'bkt',
        KeyMarker: paged.NextKeyMarker,
        UploadIdMarker: paged.NextUploadIdMarker,
      }),
    );
    expect(rest.Uploads?.map((u) => u.Key)).toEqual(['mpu/c']);

    await client.send(
      new AbortMultipartUploadCommand({ Bucket: 'bkt', Key: 'mpu/c', UploadId: second.UploadId }),
    );
    expect(proxy.openMultipartUploads()).toEqual([
      { bucket: 'bkt', key: 'mpu/a b+ü', uploadId: first.UploadId },
    ]);
    const after = await client.send(new ListMultipartUploadsCommand({ Bucket: 'bkt' }));
    expect(after.Uploads?.map((u) => u.Key)).toEqual(['mpu/a b+ü']);

    const noRetry = createTestS3Client(proxy.endpoint, { maxAttempts: 1 });
    try {
      await expect(
        noRetry.send(
          new UploadPartCommand({
            Bucket: 'bkt',
            Key: 'mpu/c',
            UploadId: second.UploadId,
            PartNumber: 2,
            Body: 'p',
          }),
        ),
      ).rejects.toMatchObject({ name: 'NoSuchUpload', $metadata: { httpStatusCode: 404 } });
      await expect(
        noRetry.send(
          new AbortMultipartUploadCommand({
            Bucket: 'bkt',
            Key: 'mpu/c',
            UploadId: second.UploadId,
          }),
        ),
      ).rejects.toMatchObject({ name: 'NoSuchUpload' });
    } finally {
      noRetry.destroy();
    }
    await client.send(
      new AbortMultipartUploadCommand({
        Bucket: 'bkt',
        Key: 'mpu/a b+ü',
        UploadId: first.UploadId,
      }),
    );
    expect(proxy.openMultipartUploads()).toEqual([]);
    expect(
      proxy.operations.filter((o) => o.op === 'AbortMultipartUpload').map((o) => o.status),
    ).toEqual([204, 404, 204]);
  });

  test('a failed lib-storage Upload aborts its multipart upload through the proxy', async () => {
    const noRetry = createTestS3Client(proxy.endpoint, { maxAttempts: 1 });
    try {
      proxy.addFault({ op: 'UploadPart', action: { type: 'status', status: 500 }, times: 1 });
      const upload = new Upload({
        client: noRetry,
        params: { Bucket: 'bkt', Key: 'mpu/failing', Body: bytes(11 * MiB) },
        partSize: 5 * MiB,
        queueSize: 1,
      });
      await expect(upload.done()).rejects.toMatchObject({ name: 'InternalError' });
      await eventually(() =>
        expect(
          proxy.operations.some((o) => o.op === 'AbortMultipartUpload' && o.status === 204),
        ).toBe(true),
      );
      expect(proxy.openMultipartUploads()).toEqual([]);
    } finally {
      noRetry.destroy();
    }
  });

  test("'cut-body' makes the GetObject body stream fail after the headers", async () => {
    const body = bytes(2 * MiB);
    await putObject(client, 'bkt', 'cut/k', body);
    proxy.addFault({
      op: 'GetObject',
      key: 'cut/k',
      action: { type: 'cut-body', afterBytes: 64 * 1024 },
      times: 1,
    });
    const noRetry = createTestS3Client(proxy.endpoint, { maxAttempts: 1 });
    try {
      const response = await noRetry.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'cut/k' }));
      expect(response.ContentLength).toBe(2 * MiB);
      await expect(response.Body?.transformToByteArray()).rejects.toThrow();
      expect(proxy.operations.at(-1)).toMatchObject({
        op: 'GetObject',
        status: 200,
        fault: 'cut-body',
      });
      expect(sha256((await getObjectBytes(noRetry, 'bkt', 'cut/k')) ?? '')).toBe(sha256(body));
    } finally {
      noRetry.destroy();
    }
  });

  test("'stall' holds an answer for ms; 'reset' fails the request", async () => {
    await putObject(client, 'bkt', 'stall/k', bytes(256 * 1024));
    proxy.addFault({
      op: 'GetObject',
      action: { type: 'stall', ms: 300, afterBytes: 1000 },
      times: 1,
    });
    proxy.addFault({
      op: 'PutObject',
      key: 'stall/put',
      action: { type: 'stall', ms: 300 },
      times: 1,
    });
    let started = performance.now();
    expect((await getObjectBytes(client, 'bkt', 'stall/k'))?.length).toBe(256 * 1024);
    expect(performance.now() - started).toBeGreaterThanOrEqual(280);
    started = performance.now();
    await putObject(client, 'bkt', 'stall/put', 'x');
    expect(performance.now() - started).toBeGreaterThanOrEqual(280);

    proxy.addFault({ op: 'HeadObject', action: { type: 'reset' }, times: 1 });
    const noRetry = createTestS3Client(proxy.endpoint, { maxAttempts: 1 });
    try {
      await expect(
        noRetry.send(new HeadObjectCommand({ Bucket: 'bkt', Key: 'stall/k' })),
      ).rejects.toThrow(/ECONNRESET|socket hang up/);
      expect(proxy.operations.at(-1)).toMatchObject({
        op: 'HeadObject',
        status: 0,
        fault: 'reset',
      });
    } finally {
      noRetry.destroy();
    }
  });
});
