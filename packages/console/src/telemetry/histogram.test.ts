import { describe, expect, it } from 'vitest';
import { histogramQuantile, parseBound } from './histogram.js';

const buckets = (entries: [number, number][]) => new Map(entries);

describe('histogramQuantile', () => {
  it('interpolates inside the bucket that holds the rank', () => {
    // 10 observations: 4 up to 0.1 s, 4 more up to 1 s, 2 more up to 10 s.
    const h = buckets([
      [0.1, 4],
      [1, 8],
      [10, 10],
      [Infinity, 10],
    ]);
    // rank 5 is the 1st of 4 in (0.1, 1]: 0.1 + 0.9 × 1/4.
    expect(histogramQuantile(0.5, h)).toBeCloseTo(0.325, 10);
    // rank 2 is halfway through the first bucket, which starts at 0.
    expect(histogramQuantile(0.2, h)).toBeCloseTo(0.05, 10);
    // rank 9.9 is 1.9 of 2 in (1, 10]: 1 + 9 × 1.9/2.
    expect(histogramQuantile(0.99, h)).toBeCloseTo(9.55, 10);
  });

  it('answers the highest finite bound for ranks in the +Inf bucket', () => {
    const h = buckets([
      [1, 1],
      [5, 1],
      [Infinity, 4],
    ]);
    expect(histogramQuantile(0.99, h)).toBe(5);
  });

  it('skips empty buckets before the rank', () => {
    const h = buckets([
      [0.1, 0],
      [0.5, 0],
      [1, 2],
      [Infinity, 2],
    ]);
    // Both observations are in (0.5, 1]; the median is halfway through it.
    expect(histogramQuantile(0.5, h)).toBeCloseTo(0.75, 10);
  });

  it('has no quantile for an empty histogram', () => {
    expect(histogramQuantile(0.5, buckets([[Infinity, 0]]))).toBeUndefined();
    expect(histogramQuantile(0.5, buckets([]))).toBeUndefined();
  });

  it('reads +Inf and numeric bounds', () => {
    expect(parseBound('+Inf')).toBe(Infinity);
    expect(parseBound(0.25)).toBe(0.25);
    expect(parseBound('2.5')).toBe(2.5);
  });
});
