import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { KeyLock } from './key-lock.js';

describe('KeyLock', () => {
  it('runs work on one key one at a time, in arrival order, and other keys at once', async () => {
    const lock = new KeyLock();
    const signal = new AbortController().signal;
    const events: string[] = [];
    const job = (name: string, ms: number) => async () => {
      events.push(`start ${name}`);
      await sleep(ms);
      events.push(`end ${name}`);
      return name;
    };
    const results = await Promise.all([
      lock.run('a', signal, job('a1', 30)),
      lock.run('a', signal, job('a2', 1)),
      lock.run('b', signal, job('b1', 1)),
    ]);
    expect(results).toEqual(['a1', 'a2', 'b1']);
    expect(events.indexOf('end a1')).toBeLessThan(events.indexOf('start a2'));
    expect(events.indexOf('start b1')).toBeLessThan(events.indexOf('end a1'));
    expect(lock.size).toBe(0);
  });

  it('goes on after a failure, and gives up waiting when aborted', async () => {
    const lock = new KeyLock();
    const never = new AbortController();
    const first = lock.run('k', never.signal, async () => {
      await sleep(50);
      throw new Error('boom');
    });
    const waiting = new AbortController();
    let ran = false;
    const second = lock.run('k', waiting.signal, () => {
      ran = true;
      return Promise.resolve();
    });
    const third = lock.run('k', never.signal, () => Promise.resolve('third'));
    waiting.abort(new Error('shutdown'));
    await expect(second).rejects.toThrow('shutdown');
    await expect(first).rejects.toThrow('boom');
    await expect(third).resolves.toBe('third');
    expect(ran).toBe(false);
    expect(lock.size).toBe(0);
  });
});
