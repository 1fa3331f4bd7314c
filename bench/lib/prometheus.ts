/** One sample of the Prometheus text format. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the Prometheus text exposition format (comments and blank lines skipped). */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1] ?? ''] = pair[2] ?? '';
    }
    samples.push({ name: match[1] ?? '', labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum of every sample named `name` whose labels include `labels`. */
export function sumOf(
  samples: readonly Sample[],
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  return samples
    .filter((sample) => sample.name === name)
    .filter((sample) =>
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
    )
    .reduce((total, sample) => total + sample.value, 0);
}

/**
 * Estimates quantile `q` (0..1) of a histogram from its cumulative buckets (summed over every
 * label set), interpolating linearly inside the bucket as Prometheus' histogram_quantile does.
 */
export function histogramQuantile(
  samples: readonly Sample[],
  name: string,
  q: number,
  labels: Readonly<Record<string, string>> = {},
): number {
  const byBound = new Map<number, number>();
  for (const sample of samples) {
    if (sample.name !== `${name}_bucket`) continue;
    if (!Object.entries(labels).every(([key, value]) => sample.labels[key] === value)) continue;
    const bound = sample.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(sample.labels.le);
    byBound.set(bound, (byBound.get(bound) ?? 0) + sample.value);
  }
  const buckets = [...byBound.entries()].sort((a, b) => a[0] - b[0]);
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) return Number.NaN;
  const wanted = q * total;
  let previousBound = 0;
  let previousCount = 0;
  for (const [bound, count] of buckets) {
    if (count >= wanted) {
      if (!Number.isFinite(bound)) return previousBound;
      const inBucket = count - previousCount;
      const fraction = inBucket === 0 ? 0 : (wanted - previousCount) / inBucket;
      return previousBound + (bound - previousBound) * fraction;
    }
    previousBound = bound;
    previousCount = count;
  }
  return previousBound;
}

/**
 * The window between two scrapes: counters and histogram series of `after` less those of
 * `before`; gauges as in `after`.
 */
export function delta(after: readonly Sample[], before: readonly Sample[]): Sample[] {
  const key = (sample: Sample) => `${sample.name}${JSON.stringify(sample.labels)}`;
  const earlier = new Map(before.map((sample) => [key(sample), sample.value]));
  return after.map((sample) =>
    /_(total|count|sum|bucket)$/.test(sample.name)
      ? { ...sample, value: sample.value - (earlier.get(key(sample)) ?? 0) }
      : sample,
  );
}

/** Fetches and parses `url` (a /metrics endpoint). */
export async function scrape(url: string): Promise<Sample[]> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return parsePrometheus(await response.text());
}
