import { silentLogger } from '@s3relay/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeliveryQueue, compileDeliveryOptions, type DeliveryOptions } from './delivery-queue.js';
import type { VkEventRecord } from './records.js';
import type { WebhookPoster, WebhookResponse } from './webhook-client.js';

/** A receiver whose answers the test scripts; records every POST with its fake-clock time. */
class FakeReceiver implements WebhookPoster {
  readonly posts: { url: string; keys: string[]; at: number }[] = [];
  answer: (call: number) => Promise<WebhookResponse> = () =>
    Promise.resolve({ status: 200, body: '' });

  post(url: string, body: string): Promise<WebhookResponse> {
    const { Records } = JSON.parse(body) as { Records: VkEventRecord[] };
    this.posts.push({ url, keys: Records.map((record) => record.s3.object.key), at: Date.now() });
    return this.answer(this.posts.length);
  }
}

const record = (key: string): VkEventRecord => ({
  s3: {
    object: { sequencer: 1, key },
    configurationId: '1',
    bucket: { name: 'b', ownerIdentity: { principalId: 'mcs1' } },
    s3SchemaVersion: '1.0',
  },
  eventVersion: '1.0',
  requestParameters: { sourceIPAddress: '127.0.0.1' },
  userIdentity: { principalId: 'u' },
  eventName: 's3:ObjectRemoved:Delete',
  awsRegion: 'ru-msk',
  eventSource: 'aws:s3',
  responseElements: { 'x-amz-request-id': 'r' },
});

describe('DeliveryQueue', () => {
  let receiver: FakeReceiver;
  let queue: DeliveryQueue | undefined;
  const start = (options: DeliveryOptions = {}) => {
    queue = new DeliveryQueue(compileDeliveryOptions(options), receiver, silentLogger);
    return queue;
  };

  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
    receiver = new FakeReceiver();
  });
  afterEach(() => {
    queue?.close();
    vi.useRealTimers();
  });

  it('delivers each record once when the receiver answers 2xx', async () => {
    const q = start();
    q.enqueue('http://a', record('k1'), 'k1');
    q.enqueue('http://a', record('k2'), 'k2');
    await q.idle();
    expect(receiver.posts.map((post) => post.keys)).toEqual([['k1'], ['k2']]);
    expect(q.stats()).toEqual({ queued: 0, delivered: 2, retried: 0, dropped: 0, inFlight: 0 });
    expect(q.deliveries()).toMatchObject([
      { url: 'http://a', records: [{ key: 'k1' }], attempt: 1, status: 200, error: null },
      { url: 'http://a', records: [{ key: 'k2' }], attempt: 1, status: 200, error: null },
    ]);
  });

  it('retries with exponential backoff capped at maxDelayMs until a 2xx', async () => {
    receiver.answer = (call) =>
      call <= 5
        ? Promise.resolve({ status: 500, body: '' })
        : Promise.resolve({ status: 204, body: '' });
    const q = start({ initialDelayMs: 1000, maxDelayMs: 4000 });
    q.enqueue('http://a', record('k'), 'k');
    const idle = q.idle();
    await vi.runAllTimersAsync();
    await idle;
    expect(receiver.posts.map((post) => post.at)).toEqual([0, 1000, 3000, 7000, 11_000, 15_000]);
    expect(q.stats()).toEqual({ queued: 0, delivered: 1, retried: 5, dropped: 0, inFlight: 0 });
    expect(q.deliveries().map((attempt) => [attempt.attempt, attempt.error])).toEqual([
      [1, 'HTTP 500'],
      [2, 'HTTP 500'],
      [3, 'HTTP 500'],
      [4, 'HTTP 500'],
      [5, 'HTTP 500'],
      [6, null],
    ]);
  });

  it('treats a network error or timeout like a failed answer', async () => {
    receiver.answer = (call) =>
      call === 1
        ? Promise.reject(new Error('connect ECONNREFUSED'))
        : Promise.resolve({ status: 200, body: '' });
    const q = start({ initialDelayMs: 10 });
    q.enqueue('http://a', record('k'), 'k');
    const idle = q.idle();
    await vi.runAllTimersAsync();
    await idle;
    expect(q.deliveries().map((attempt) => [attempt.status, attempt.error])).toEqual([
      [null, 'connect ECONNREFUSED'],
      [200, null],
    ]);
  });

  it('drops a record after maxAttempts', async () => {
    receiver.answer = () => Promise.resolve({ status: 503, body: '' });
    const q = start({ initialDelayMs: 10, maxAttempts: 3 });
    q.enqueue('http://a', record('k'), 'k');
    const idle = q.idle();
    await vi.runAllTimersAsync();
    await idle;
    expect(receiver.posts).toHaveLength(3);
    expect(q.stats()).toEqual({ queued: 0, delivered: 0, retried: 2, dropped: 1, inFlight: 0 });
  });

  it('drops a record whose next attempt would come after maxAgeMs (default 10 min)', async () => {
    receiver.answer = () => Promise.resolve({ status: 500, body: '' });
    const q = start();
    q.enqueue('http://a', record('k'), 'k');
    const idle = q.idle();
    await vi.runAllTimersAsync();
    await idle;
    const times = receiver.posts.map((post) => post.at);
    // 0, 1, 3, 7, 15, 31 s, then every 30 s while the next attempt is within 600 s.
    expect(times.slice(0, 7)).toEqual([0, 1000, 3000, 7000, 15_000, 31_000, 61_000]);
    expect(times.at(-1)).toBe(571_000);
    expect(q.stats().dropped).toBe(1);
  });

  it('batches up to batchSize records per POST', async () => {
    const q = start({ batchSize: 3, concurrency: 1 });
    for (const key of ['a', 'b', 'c', 'd', 'e']) q.enqueue('http://a', record(key), key);
    await q.idle();
    expect(receiver.posts.map((post) => post.keys)).toEqual([['a'], ['b', 'c', 'd'], ['e']]);
    expect(q.stats().delivered).toBe(5);
  });

  it('keeps at most `concurrency` POSTs in flight per URL, independently per URL', async () => {
    const pending: (() => void)[] = [];
    receiver.answer = () =>
      new Promise((resolve) => pending.push(() => resolve({ status: 200, body: '' })));
    const q = start({ concurrency: 2 });
    for (const key of ['1', '2', '3']) q.enqueue('http://a', record(key), key);
    q.enqueue('http://b', record('4'), '4');
    expect(receiver.posts.map((post) => post.keys[0])).toEqual(['1', '2', '4']);
    expect(q.stats()).toMatchObject({ queued: 1, inFlight: 3 });
    pending.shift()?.();
    await vi.advanceTimersByTimeAsync(0);
    expect(receiver.posts.map((post) => post.keys[0])).toEqual(['1', '2', '4', '3']);
    for (const release of pending.splice(0)) release();
    await q.idle();
    expect(q.stats()).toEqual({ queued: 0, delivered: 4, retried: 0, dropped: 0, inFlight: 0 });
  });

  it('queues a record twice with duplicateRate', async () => {
    const draws = [0.1, 0.9];
    const q = start({ duplicateRate: 0.5, random: () => draws.shift() ?? 0.9 });
    q.enqueue('http://a', record('twice'), 'twice');
    q.enqueue('http://a', record('once'), 'once');
    await q.idle();
    expect(receiver.posts.map((post) => post.keys[0])).toEqual(['twice', 'twice', 'once']);
    expect(q.stats().delivered).toBe(3);
  });

  it('holds new records for a random time below reorderWindowMs', async () => {
    const draws = [0.9, 0.1];
    const q = start({ reorderWindowMs: 1000, random: () => draws.shift() ?? 0 });
    q.enqueue('http://a', record('first'), 'first');
    q.enqueue('http://a', record('second'), 'second');
    expect(q.stats().queued).toBe(2);
    const idle = q.idle();
    await vi.runAllTimersAsync();
    await idle;
    expect(receiver.posts).toEqual([
      { url: 'http://a', keys: ['second'], at: 100 },
      { url: 'http://a', keys: ['first'], at: 900 },
    ]);
  });

  it('rejects idle() after its timeout with the counters, and on close', async () => {
    receiver.answer = () => Promise.resolve({ status: 500, body: '' });
    const q = start();
    q.enqueue('http://a', record('k'), 'k');
    const timedOut = expect(q.idle(50)).rejects.toThrow(/not finished within 50 ms.*"retried":1/);
    await vi.advanceTimersByTimeAsync(50);
    await timedOut;
    const closed = expect(q.idle()).rejects.toThrow(/closed/);
    q.close();
    await closed;
  });

  it('leaves no timer behind when closed with retries pending', async () => {
    receiver.answer = () => Promise.resolve({ status: 500, body: '' });
    const q = start({ reorderWindowMs: 100, random: () => 0.5 });
    q.enqueue('http://a', record('held'), 'held');
    await vi.advanceTimersByTimeAsync(60);
    q.enqueue('http://a', record('held too'), 'held too');
    expect(vi.getTimerCount()).toBeGreaterThan(0);
    q.close();
    expect(vi.getTimerCount()).toBe(0);
    q.enqueue('http://a', record('after close'), 'after close');
    expect(vi.getTimerCount()).toBe(0);
    expect(receiver.posts.map((post) => post.keys[0])).toEqual(['held']);
  });
});

describe('compileDeliveryOptions', () => {
  it('applies the defaults, also for options given as undefined', () => {
    expect(compileDeliveryOptions({ batchSize: undefined, concurrency: 2 })).toMatchObject({
      batchSize: 1,
      concurrency: 2,
      requestTimeoutMs: 5000,
      initialDelayMs: 1000,
      maxDelayMs: 30_000,
      maxAttempts: Number.POSITIVE_INFINITY,
      maxAgeMs: 600_000,
      duplicateRate: 0,
      reorderWindowMs: 0,
    });
  });

  it('lists every invalid option', () => {
    expect(() =>
      compileDeliveryOptions({ batchSize: 0, concurrency: 1.5, duplicateRate: 2, maxDelayMs: 1 }),
    ).toThrow(
      /batchSize must be an integer >= 1; concurrency must be an integer >= 1; maxDelayMs must be >= initialDelayMs; duplicateRate must be within 0..1/,
    );
  });
});
