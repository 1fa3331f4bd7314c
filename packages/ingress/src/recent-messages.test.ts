import { describe, expect, it, vi } from 'vitest';
import { RecentMessages } from './recent-messages.js';

function clock(start = 0) {
  let ms = start;
  return { now: () => new Date(ms), advance: (by: number) => (ms += by) };
}

describe('RecentMessages', () => {
  it('publishes an id once while it is remembered, then again after the TTL', async () => {
    const time = clock();
    const recent = new RecentMessages({ ttlMs: 1000, maxEntries: 10, now: time.now });
    const publish = vi.fn(() => Promise.resolve('done'));
    await expect(recent.publishOnce('a', publish)).resolves.toEqual({
      duplicate: false,
      value: 'done',
    });
    await expect(recent.publishOnce('a', publish)).resolves.toEqual({ duplicate: true });
    time.advance(1001);
    await expect(recent.publishOnce('a', publish)).resolves.toEqual({
      duplicate: false,
      value: 'done',
    });
    expect(publish).toHaveBeenCalledTimes(2);
  });

  it('does not remember an id whose publish failed', async () => {
    const recent = new RecentMessages({ ttlMs: 1000, maxEntries: 10, now: clock().now });
    await expect(recent.publishOnce('a', () => Promise.reject(new Error('nack')))).rejects.toThrow(
      'nack',
    );
    expect(recent.size).toBe(0);
    await expect(recent.publishOnce('a', () => Promise.resolve(1))).resolves.toEqual({
      duplicate: false,
      value: 1,
    });
  });

  it('lets a concurrent delivery of the same id share the running publish', async () => {
    const recent = new RecentMessages({ ttlMs: 1000, maxEntries: 10, now: clock().now });
    let release: () => void = () => undefined;
    const publish = vi.fn(() => new Promise<void>((resolve) => (release = resolve)));
    const first = recent.publishOnce('a', publish);
    const second = recent.publishOnce('a', publish);
    release();
    await expect(first).resolves.toMatchObject({ duplicate: false });
    await expect(second).resolves.toEqual({ duplicate: true });
    expect(publish).toHaveBeenCalledTimes(1);
  });

  it('shares a failure with the concurrent delivery, so both are retried', async () => {
    const recent = new RecentMessages({ ttlMs: 1000, maxEntries: 10, now: clock().now });
    let fail: (err: Error) => void = () => undefined;
    const first = recent.publishOnce(
      'a',
      () => new Promise<void>((_resolve, reject) => (fail = reject)),
    );
    const second = recent.publishOnce('a', () => Promise.resolve());
    fail(new Error('timeout'));
    await expect(first).rejects.toThrow('timeout');
    await expect(second).rejects.toThrow('timeout');
  });

  it('forgets the oldest ids beyond its bound', async () => {
    const recent = new RecentMessages({ ttlMs: 60_000, maxEntries: 2, now: clock().now });
    for (const id of ['a', 'b', 'c']) await recent.publishOnce(id, () => Promise.resolve());
    expect(recent.size).toBe(2);
    await expect(recent.publishOnce('a', () => Promise.resolve())).resolves.toMatchObject({
      duplicate: false,
    });
    await expect(recent.publishOnce('c', () => Promise.resolve())).resolves.toEqual({
      duplicate: true,
    });
  });
});
