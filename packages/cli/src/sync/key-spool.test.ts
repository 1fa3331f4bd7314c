import { describe, expect, it } from 'vitest';
import { KeySpool } from './key-spool.js';

describe('KeySpool', () => {
  it('gives back every key in order, whatever characters it holds', async () => {
    const spool = await KeySpool.create();
    const keys = [
      'a',
      'line\nbreak',
      'ünï "quoted" 😀',
      '',
      ...Array.from({ length: 5000 }, (_, i) => `k${i}`),
    ];
    for (const key of keys) await spool.add(key);
    expect(spool.count).toBe(keys.length);
    const read: string[] = [];
    for await (const key of spool.keys()) read.push(key);
    expect(read).toEqual(keys);
    await spool.close();
  });

  it('closes cleanly when its keys were never read', async () => {
    const spool = await KeySpool.create();
    for (let i = 0; i < 20_000; i += 1) await spool.add(`key ${i}`);
    await expect(spool.close()).resolves.toBeUndefined();
  });
});
