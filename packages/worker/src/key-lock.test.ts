import { describe, expect, it } from 'vitest';
import { KeyLock } from './key-lock.js';

/** Work that runs until the test lets it end. */
function gate(): { readonly opened: Promise<void>; open(): void } {
  let open = (): void => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe('KeyLock', () => {
  it('runs work on one key one at a time, in arrival order, and other keys at once', async () => {
    const lock = new KeyLock();
    const signal = new AbortController().signal;
    const events: string[] = [];
    const job = (name: string, until: Promise<void>) => async () => {
      events.push(`start ${name}`);
      await until;
      events.push(`end ${name}`);
      return name;
    };
    const a1 = gate();
    const first = lock.run('a', signal, job('a1', a1.opened));
    const second = lock.run('a', signal, job('a2', Promise.resolve()));
    expect(await lock.run('b', signal, job('b1', Promise.resolve()))).toBe('b1');
    // b1 ran to its end while a1 holds `a`; a2 waits for it.
    expect(events).toEqual(['start a1', 'start b1', 'end b1']);
    expect(lock.size).toBe(1);
    a1.open();
    expect(await Promise.all([first, second])).toEqual(['a1', 'a2']);
    expect(events.slice(3)).toEqual(['end a1', 'start a2', 'end a2']);
    expect(lock.size).toBe(0);
  });

  it('goes on after a failure, and gives up waiting when aborted', async () => {
    const lock = new KeyLock();
    const never = new AbortController();
    const failing = gate();
    const first = lock.run('k', never.signal, async () => {
      await failing.opened;
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
    // It gives up while the first still runs.
    await expect(second).rejects.toThrow('shutdown');
    failing.open();
    await expect(first).rejects.toThrow('boom');
    await expect(third).resolves.toBe('third');
    expect(ran).toBe(false);
    expect(lock.size).toBe(0);
  });
});
