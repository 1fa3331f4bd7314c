import { describe, expect, it, vi } from 'vitest';
import { BufferReclaimer } from './buffer-reclaimer.js';

const MiB = 1024 * 1024;

describe('BufferReclaimer', () => {
  it('collects once every so many bytes, whichever chunks brought them', () => {
    let collections = 0;
    const reclaimer = new BufferReclaimer({ everyBytes: 100, collect: () => (collections += 1) });
    for (const bytes of [60, 39]) reclaimer.received(bytes);
    expect(collections).toBe(0);
    reclaimer.received(1);
    expect(collections).toBe(1);
    reclaimer.received(250);
    expect(collections).toBe(2);
    reclaimer.received(99);
    expect(collections).toBe(2);
  });

  it("frees dead socket-sized buffers with V8's own collector", async () => {
    const reclaimer = new BufferReclaimer({ everyBytes: 16 * MiB });
    const before = process.memoryUsage().arrayBuffers;
    // What a streaming copy leaves behind: 64 KiB chunks, each dead once its bytes moved on.
    let checksum = 0;
    for (let index = 0; index < 256; index += 1) {
      const chunk = Buffer.allocUnsafe(64 * 1024);
      chunk[0] = index;
      checksum += chunk[0];
    }
    expect(checksum).toBeGreaterThan(0);
    const garbage = process.memoryUsage().arrayBuffers - before;
    expect(garbage).toBeGreaterThanOrEqual(12 * MiB);
    reclaimer.received(16 * MiB);
    // V8 frees the collected buffers' memory on a background thread, right after the collection.
    await vi.waitFor(
      () => expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(garbage / 4),
      { timeout: 5000, interval: 10 },
    );
  });
});
