import { describe, expect, it } from 'vitest';
import { deletesReplicated, formatDeleteLimit, parseDeleteLimit } from './delete-limit.js';

describe('parseDeleteLimit', () => {
  it('reads a count per window', () => {
    expect(parseDeleteLimit('500/10m')).toEqual({ count: 500, windowMs: 600_000 });
    expect(parseDeleteLimit(' 1000 / 1h ')).toEqual({ count: 1000, windowMs: 3_600_000 });
    expect(parseDeleteLimit('3/1h30m')).toEqual({ count: 3, windowMs: 5_400_000 });
  });

  it('reads 0 as never deleting', () => {
    expect(parseDeleteLimit('0')).toEqual({ count: 0, windowMs: 0 });
  });

  it.each([
    ['', 'not a delete limit'],
    ['500', 'not a delete limit'],
    ['/10m', 'not a delete limit'],
    ['-1/10m', 'not a delete limit'],
    ['1.5/10m', 'not a delete limit'],
    ['500/tenminutes', 'not a duration'],
    ['0/10m', 'the count must be'],
    ['1000001/1h', 'the count must be'],
    ['5/500ms', 'the window must be'],
    ['5/31d', 'the window must be'],
  ])('refuses %j', (raw, message) => {
    expect(() => parseDeleteLimit(raw)).toThrow(message);
  });

  it('formats what it reads', () => {
    for (const raw of ['0', '500/10m', '1000/1h', '7/90s']) {
      expect(formatDeleteLimit(parseDeleteLimit(raw))).toBe(raw);
    }
  });
});

describe('deletesReplicated', () => {
  it('is on only with REPLICATE_DELETES and a DELETE_LIMIT other than 0', () => {
    const limit = parseDeleteLimit('500/10m');
    expect(deletesReplicated({ replicateDeletes: true, deleteLimit: limit })).toBe(true);
    expect(deletesReplicated({ replicateDeletes: false, deleteLimit: limit })).toBe(false);
    const never = parseDeleteLimit('0');
    expect(deletesReplicated({ replicateDeletes: true, deleteLimit: never })).toBe(false);
  });
});
