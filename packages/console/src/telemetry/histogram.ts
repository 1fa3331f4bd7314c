/** Observations counted per bucket: `le` (upper bound, Infinity last) → cumulative count. */
export type CumulativeBuckets = ReadonlyMap<number, number>;

/**
 * The q-quantile of a histogram, estimated the way Prometheus's `histogram_quantile` does:
 * find the bucket holding the q-th observation and interpolate linearly inside it (from 0 for the
 * first bucket). An answer in the +Inf bucket is the highest finite bound. Undefined when the
 * histogram is empty.
 */
export function histogramQuantile(q: number, buckets: CumulativeBuckets): number | undefined {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Infinity) ?? Math.max(0, ...buckets.values());
  if (bounds.length === 0 || total <= 0) return undefined;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const bound of bounds) {
    const count = buckets.get(bound) ?? 0;
    if (count >= rank && count > lowerCount) {
      if (bound === Infinity) return lowerBound;
      return lowerBound + ((bound - lowerBound) * (rank - lowerCount)) / (count - lowerCount);
    }
    lowerBound = bound === Infinity ? lowerBound : bound;
    lowerCount = count;
  }
  return lowerBound;
}

/** Parses a bucket bound as prom-client reports it (a number, or the string `+Inf`). */
export function parseBound(le: string | number): number {
  return le === '+Inf' ? Infinity : Number(le);
}
