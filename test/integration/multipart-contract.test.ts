// The contract of our own multipart uploader (packages/worker/src/multipart-upload.ts), held
// against s3rver behind the fault proxy. Why it is ours and not lib-storage's `Upload`:
// docs/ARCHITECTURE.md, "Why our own multipart uploader". What the client did and when is read
// from a middleware on the real SDK client; what the server saw, from the proxy.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { silentLogger } from '@s3relay/core';
import { uploadMultipart } from '@s3relay/worker';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startS3Proxy, type S3Proxy } from '../helpers/s3-proxy.js';
import { createTestS3Client, getObjectBytes, startS3Server, type TestS3 } from '../helpers/s3.js';

const BUCKET = 'backup';
/** Small parts keep the test fast; s3rver does not enforce S3's 5 MiB minimum. */
const PART = 64 * 1024;

let s3: TestS3;
let proxy: S3Proxy;
let client: S3Client;

/** One SDK command as the client saw it: `seq` numbers order every start and end. */
interface Sent {
  readonly command: string;
  readonly startSeq: number;
  endSeq: number | undefined;
  readonly contentLength: number | undefined;
  error: unknown;
}
const sent: Sent[] = [];
let seq = 0;

beforeAll(async () => {
  s3 = await startS3Server({ buckets: [BUCKET] });
  proxy = await startS3Proxy({ endpoint: s3.endpoint });
  // One attempt: a refused part must fail the upload, not be retried by the SDK.
  client = createTestS3Client(proxy.endpoint, { maxAttempts: 1 });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { ContentLength?: number };
      const record: Sent = {
        command: context.commandName ?? '',
        startSeq: ++seq,
        endSeq: undefined,
        contentLength: input.ContentLength,
        error: undefined,
      };
      sent.push(record);
      try {
        return await next(args);
      } catch (err) {
        record.error = err;
        throw err;
      } finally {
        record.endSeq = ++seq;
      }
    },
    { step: 'initialize', name: 'recordCommands' },
  );
});

afterAll(async () => {
  client?.destroy();
  await proxy?.close();
  await s3?.close();
});

function upload(
  key: string,
  body: Buffer,
  queueSize: number,
  signal = new AbortController().signal,
) {
  return uploadMultipart({
    client,
    params: { Bucket: BUCKET, Key: key },
    body: Readable.from(chunks(body, 10_000)),
    size: body.length,
    partSizeBytes: PART,
    queueSize,
    signal,
    logger: silentLogger,
  });
}

/** The body in chunks that do not line up with the parts. */
function* chunks(body: Buffer, size: number): Generator<Buffer> {
  for (let offset = 0; offset < body.length; offset += size)
    yield body.subarray(offset, offset + size);
}

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

describe('uploadMultipart', () => {
  it('allocates at most queue size + 1 part buffers and has at most queue size parts in flight', async () => {
    sent.length = 0;
    const allocate = vi.spyOn(Buffer, 'allocUnsafe');
    const body = randomBytes(10 * PART + 123);
    await upload('bounded', body, 2);
    const partBuffers = allocate.mock.calls.filter(([size]) => size === PART);
    expect(partBuffers.length).toBe(3);
    // In flight at once, from the client's own record of starts and ends.
    const events = sent
      .filter((record) => record.command === 'UploadPartCommand')
      .flatMap((record) => [
        { at: record.startSeq, delta: 1 },
        { at: record.endSeq ?? Number.POSITIVE_INFINITY, delta: -1 },
      ])
      .sort((a, b) => a.at - b.at);
    let inFlight = 0;
    let most = 0;
    for (const event of events) {
      inFlight += event.delta;
      most = Math.max(most, inFlight);
    }
    expect(most).toBe(2);
    expect(sha((await getObjectBytes(s3.client, BUCKET, 'bounded')) ?? Buffer.alloc(0))).toBe(
      sha(body),
    );
  });

  it.each([
    ['exactly one part', PART],
    ['one byte over a part', PART + 1],
    ['one byte short of two parts', 2 * PART - 1],
    ['exactly three parts', 3 * PART],
    ['one byte over three parts', 3 * PART + 1],
  ])('writes %s whole, in parts of the part size and a last one of the rest', async (_, size) => {
    sent.length = 0;
    const key = `boundary-${size}`;
    const body = randomBytes(size);
    await upload(key, body, 2);
    const lengths = sent
      .filter((record) => record.command === 'UploadPartCommand')
      .map((record) => record.contentLength)
      .sort((a, b) => (b ?? 0) - (a ?? 0));
    const parts = Math.ceil(size / PART);
    const expected = Array.from({ length: parts }, (_unused, index) =>
      index < parts - 1 ? PART : size - (parts - 1) * PART,
    );
    expect(lengths).toEqual(expected);
    expect(sha((await getObjectBytes(s3.client, BUCKET, key)) ?? Buffer.alloc(0))).toBe(sha(body));
  });

  it('reports the first failure and aborts the upload only after every part in flight settled', async () => {
    sent.length = 0;
    const remove = proxy.addFault({
      op: 'UploadPart',
      key: 'first-failure',
      action: { type: 'hold' },
    });
    try {
      const result = upload('first-failure', randomBytes(6 * PART), 3).then(
        () => undefined,
        (err: unknown) => err,
      );
      const held = await proxy.whenHeld(3);
      // The second part fails first; the other two are still in flight.
      proxy.release(held[1], { type: 'status', status: 403 });
      const error = await result;
      expect(error).toMatchObject({ name: 'AccessDenied' });

      const parts = sent.filter((record) => record.command === 'UploadPartCommand');
      expect(parts).toHaveLength(3);
      const aborts = sent.filter((record) => record.command === 'AbortMultipartUploadCommand');
      expect(aborts).toHaveLength(1);
      const abort = aborts[0] as Sent;
      for (const part of parts) {
        expect(part.endSeq).toBeDefined();
        expect(part.endSeq ?? Infinity).toBeLessThan(abort.startSeq);
      }
      // The others were cancelled, not answered: their requests left the proxy unanswered.
      expect(parts.filter((part) => part.error !== error)).toHaveLength(2);
      expect(proxy.openMultipartUploads().filter((u) => u.key === 'first-failure')).toEqual([]);
      expect(sent.some((record) => record.command === 'CompleteMultipartUploadCommand')).toBe(
        false,
      );
    } finally {
      remove();
      proxy.release();
    }
  });

  it('on abort by its caller, settles every part in flight before aborting the upload', async () => {
    sent.length = 0;
    const remove = proxy.addFault({ op: 'UploadPart', key: 'cancelled', action: { type: 'hold' } });
    const controller = new AbortController();
    try {
      const result = upload('cancelled', randomBytes(4 * PART), 2, controller.signal).then(
        () => undefined,
        (err: unknown) => err,
      );
      await proxy.whenHeld(2);
      const reason = new Error('shutting down');
      controller.abort(reason);
      expect(await result).toBe(reason);
      const parts = sent.filter((record) => record.command === 'UploadPartCommand');
      const abort = sent.find((record) => record.command === 'AbortMultipartUploadCommand');
      expect(parts).toHaveLength(2);
      expect(abort).toBeDefined();
      for (const part of parts) expect(part.endSeq ?? Infinity).toBeLessThan(abort?.startSeq ?? 0);
      expect(proxy.openMultipartUploads().filter((u) => u.key === 'cancelled')).toEqual([]);
    } finally {
      remove();
      proxy.release();
    }
  });
});
