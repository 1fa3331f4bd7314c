import { describe, expect, it } from 'vitest';
import { partSizeFor } from './multipart-upload.js';

const MiB = 1024 * 1024;

describe('partSizeFor', () => {
  it('keeps the configured part size while 10,000 parts suffice', () => {
    expect(partSizeFor(64 * MiB, 8 * MiB)).toBe(8 * MiB);
    expect(partSizeFor(10_000 * 8 * MiB, 8 * MiB)).toBe(8 * MiB);
  });

  it('grows the part size for objects that would need more than 10,000 parts', () => {
    const size = 10_000 * 8 * MiB + 1;
    const partSize = partSizeFor(size, 8 * MiB);
    expect(partSize).toBeGreaterThan(8 * MiB);
    expect(Math.ceil(size / partSize)).toBeLessThanOrEqual(10_000);
  });
});
