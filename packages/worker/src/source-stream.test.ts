import { once } from 'node:events';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TransientError } from '@s3relay/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SourceStream } from './source-stream.js';

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The idle timeout is a clock: tests drive it by hand, so a slow machine cannot fake a stall. */
function fakeClock(): void {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
}

afterEach(() => {
  vi.useRealTimers();
});

describe('SourceStream', () => {
  it('passes the body through and ends when the length matches', async () => {
    const body = Readable.from([Buffer.from('hello '), Buffer.from('world')]);
    const stream = new SourceStream(body, { expectedLength: 11, idleTimeoutMs: 1000 });
    expect((await collect(stream)).toString()).toBe('hello world');
    expect(stream.bytesRead).toBe(11);
  });

  it('passes an empty body', async () => {
    const stream = new SourceStream(Readable.from([]), { expectedLength: 0, idleTimeoutMs: 1000 });
    expect((await collect(stream)).length).toBe(0);
  });

  it.each([
    [10, 'shorter'],
    [12, 'longer'],
  ])('fails a body that ends at %i bytes, %s than its Content-Length', async (expectedLength) => {
    const body = Readable.from([Buffer.from('hello '), Buffer.from('world')]);
    const stream = new SourceStream(body, { expectedLength, idleTimeoutMs: 1000 });
    const error = await collect(stream).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as TransientError).code).toBe('RELAY_COPY_LENGTH_MISMATCH');
  });

  it('fails a source that stops sending while data is wanted, and destroys it', async () => {
    fakeClock();
    const body = new PassThrough();
    body.write('partial');
    const stream = new SourceStream(body, { expectedLength: 100, idleTimeoutMs: 100 });
    let settled = false;
    const result = collect(stream).then(
      () => (settled = true),
      (err: unknown) => {
        settled = true;
        return err;
      },
    );
    await vi.advanceTimersByTimeAsync(99);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const error = await result;
    expect((error as TransientError).code).toBe('RELAY_COPY_STALLED');
    expect(body.destroyed).toBe(true);
  });

  it('does not count a slow consumer as a stalled source', async () => {
    fakeClock();
    const size = 512 * 1024;
    const body = Readable.from(
      (function* () {
        for (let sent = 0; sent < size; sent += 16 * 1024) yield Buffer.alloc(16 * 1024, 1);
      })(),
    );
    const stream = new SourceStream(body, { expectedLength: size, idleTimeoutMs: 50 });
    let received = 0;
    const slow = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _encoding, callback) {
        received += chunk.length;
        // The consumer pauses longer than the idle timeout several times.
        if (received % (128 * 1024) === 0) setTimeout(callback, 120);
        else callback();
      },
    });
    let finished = false;
    const copied = pipeline(stream, slow).finally(() => {
      finished = true;
    });
    // Each step lets one pause of the consumer pass; a stall would fire 50 ms into it.
    for (let step = 0; step < 10 && !finished; step += 1) await vi.advanceTimersByTimeAsync(120);
    await copied;
    expect(received).toBe(size);
  });

  it('passes on a source error and a source closed before its end', async () => {
    const failing = new PassThrough();
    const stream = new SourceStream(failing, { expectedLength: 10, idleTimeoutMs: 1000 });
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    // Fails once the copy reads from it.
    failing.once('resume', () => failing.destroy(reset));
    await expect(collect(stream)).rejects.toBe(reset);

    const closing = new PassThrough();
    const closed = new SourceStream(closing, { expectedLength: 10, idleTimeoutMs: 1000 });
    closing.once('resume', () => closing.destroy());
    const error = await collect(closed).catch((err: unknown) => err);
    expect((error as TransientError).code).toBe('RELAY_S3_NETWORK');
  });

  it('destroys the source when destroyed itself', async () => {
    const body = new PassThrough();
    const stream = new SourceStream(body, { expectedLength: 10, idleTimeoutMs: 1000 });
    stream.destroy();
    await once(body, 'close');
    expect(body.destroyed).toBe(true);
  });
});
