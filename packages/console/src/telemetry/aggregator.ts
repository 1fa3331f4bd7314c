import type { TelemetrySnapshot } from '@s3relay/core/telemetry';
import { parseBound, type CumulativeBuckets } from './histogram.js';

/** One series of a metric: its sample name (`…_bucket` for a histogram bucket) and labels. */
export interface SeriesId {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** What the console knows of one reporting process. */
export interface ProcessRecord {
  readonly snapshot: TelemetrySnapshot;
  readonly firstSeenAt: number;
  readonly lastSeenAt: number;
  readonly stoppedAt: number | undefined;
  /** Current values of gauges, by series key. */
  readonly gauges: ReadonlyMap<string, number>;
  /** Per-second increase of each counter since the process's previous snapshot. */
  readonly rates: ReadonlyMap<string, number>;
}

export interface AggregatorOptions {
  /** Width of one step of the history. @default 10000 */
  readonly stepMs?: number;
  /** How far back the history goes. @default 15 minutes */
  readonly historyMs?: number;
}

interface Step {
  readonly start: number;
  /** Increase of each counter (and histogram bucket, sum and count) during the step. */
  readonly increases: Map<string, number>;
}

interface MutableProcess {
  snapshot: TelemetrySnapshot;
  firstSeenAt: number;
  lastSeenAt: number;
  stoppedAt: number | undefined;
  values: Map<string, number>;
  gauges: Map<string, number>;
  rates: Map<string, number>;
}

/** A process that has said nothing for this many of its intervals is late… */
const LATE_INTERVALS = 3;
/** …and forgotten after this many (or this long, whichever is longer). */
const FORGET_INTERVALS = 12;
const FORGET_MIN_MS = 60_000;
/** A process that said goodbye stays visible (as stopped) this long. */
const STOPPED_VISIBLE_MS = 30_000;

/**
 * Turns the cumulative snapshots of any number of processes into fleet-wide figures. Each
 * snapshot's increase over the same process's previous one is added to the step in which it
 * arrived, so the history holds, per step, how much every counter and histogram bucket grew
 * across the fleet — rates, sums and windowed percentiles follow from adding steps up. A process
 * that restarts reports under a new id, so counters never go backwards within one id. Memory is
 * bounded by the history's length times the number of series, whatever the number of processes.
 */
export class TelemetryAggregator {
  readonly #stepMs: number;
  readonly #historyMs: number;
  readonly #processes = new Map<string, MutableProcess>();
  readonly #series = new Map<string, SeriesId>();
  readonly #steps: Step[] = [];

  constructor(options: AggregatorOptions = {}) {
    this.#stepMs = options.stepMs ?? 10_000;
    this.#historyMs = options.historyMs ?? 15 * 60_000;
  }

  get stepMs(): number {
    return this.#stepMs;
  }

  get historyMs(): number {
    return this.#historyMs;
  }

  /** Takes a snapshot received at `now`. */
  ingest(snapshot: TelemetrySnapshot, now: number): void {
    const { counters, gauges } = this.#flatten(snapshot);
    const known = this.#processes.get(snapshot.id);
    if (known !== undefined && snapshot.sentAt < known.snapshot.sentAt) return;
    // A process first heard of shortly after it started counts from zero; one that has run for
    // long counts from its first snapshot here, or its lifetime's totals would land in one step.
    const young = snapshot.sentAt - snapshot.startedAt <= LATE_INTERVALS * snapshot.intervalMs;
    const previous = known?.values ?? (young ? new Map<string, number>() : counters);
    const elapsedSeconds =
      known === undefined ? undefined : (snapshot.sentAt - known.snapshot.sentAt) / 1000;
    const step = this.#stepAt(now);
    const rates = new Map<string, number>();
    for (const [key, value] of counters) {
      const increase = value - (previous.get(key) ?? 0);
      if (increase <= 0) continue;
      step.increases.set(key, (step.increases.get(key) ?? 0) + increase);
      if (elapsedSeconds !== undefined && elapsedSeconds > 0) {
        rates.set(key, increase / elapsedSeconds);
      }
    }
    this.#processes.set(snapshot.id, {
      snapshot,
      firstSeenAt: known?.firstSeenAt ?? now,
      lastSeenAt: now,
      stoppedAt: snapshot.stopping ? now : undefined,
      values: counters,
      gauges,
      rates,
    });
    this.prune(now);
  }

  /** Forgets processes gone quiet and steps older than the history. */
  prune(now: number): void {
    for (const [id, process] of this.#processes) {
      const quietMs = now - process.lastSeenAt;
      const forgetMs = Math.max(FORGET_MIN_MS, FORGET_INTERVALS * process.snapshot.intervalMs);
      const stoppedLongAgo =
        process.stoppedAt !== undefined && now - process.stoppedAt > STOPPED_VISIBLE_MS;
      if (quietMs > forgetMs || stoppedLongAgo) this.#processes.delete(id);
    }
    const oldest = this.#alignedStart(now) - this.#historyMs;
    while (this.#steps.length > 0 && (this.#steps[0]?.start ?? 0) < oldest) this.#steps.shift();
  }

  /** The processes heard from recently, with their state at `now`. */
  processes(now: number): (ProcessRecord & { state: 'live' | 'late' | 'stopped' })[] {
    return [...this.#processes.values()].map((process) => ({
      snapshot: process.snapshot,
      firstSeenAt: process.firstSeenAt,
      lastSeenAt: process.lastSeenAt,
      stoppedAt: process.stoppedAt,
      gauges: process.gauges,
      rates: process.rates,
      state:
        process.stoppedAt !== undefined
          ? 'stopped'
          : now - process.lastSeenAt > LATE_INTERVALS * process.snapshot.intervalMs
            ? 'late'
            : 'live',
    }));
  }

  /**
   * The summed per-second increase of a process's matching counters between its last two
   * snapshots; undefined before its second snapshot.
   */
  rateOf(process: ProcessRecord, match: (series: SeriesId) => boolean): number | undefined {
    if (process.firstSeenAt === process.lastSeenAt) return undefined;
    let total = 0;
    for (const [key, rate] of process.rates) {
      const series = this.#series.get(key);
      if (series !== undefined && match(series)) total += rate;
    }
    return total;
  }

  /** The increase of every matching series since `since` (steps starting at or after it). */
  increase(match: (series: SeriesId) => boolean, since: number): number {
    let total = 0;
    for (const step of this.#steps) {
      if (step.start < since) continue;
      total += this.#stepSum(step, match);
    }
    return total;
  }

  /** The increase since `since`, summed per value of one label. */
  increaseBy(
    match: (series: SeriesId) => boolean,
    label: string,
    since: number,
  ): Map<string, number> {
    const totals = new Map<string, number>();
    for (const step of this.#steps) {
      if (step.start < since) continue;
      for (const [key, increase] of step.increases) {
        const series = this.#series.get(key);
        if (series === undefined || !match(series)) continue;
        const value = series.labels[label] ?? '';
        totals.set(value, (totals.get(value) ?? 0) + increase);
      }
    }
    return totals;
  }

  /** The increase of the matching series in each of `count` steps ending with the current one. */
  perStep(match: (series: SeriesId) => boolean, now: number, count: number): number[] {
    return this.#stepStarts(now, count).map((start) => {
      const step = this.#steps.find((candidate) => candidate.start === start);
      return step === undefined ? 0 : this.#stepSum(step, match);
    });
  }

  /** The cumulative buckets of histogram `name` (matching `labels`) observed since `since`. */
  histogram(
    name: string,
    since: number,
    labels: Readonly<Record<string, string>> = {},
  ): CumulativeBuckets {
    return this.#histogramOf(
      this.#steps.filter((step) => step.start >= since),
      name,
      labels,
    );
  }

  /** The buckets of histogram `name` observed in each of `count` steps ending with the current one. */
  histogramPerStep(
    name: string,
    now: number,
    count: number,
    labels: Readonly<Record<string, string>> = {},
  ): CumulativeBuckets[] {
    return this.#stepStarts(now, count).map((start) =>
      this.#histogramOf(
        this.#steps.filter((step) => step.start === start),
        name,
        labels,
      ),
    );
  }

  /** Start times of the last `count` steps up to the one holding `now`, oldest first. */
  stepStarts(now: number, count: number): number[] {
    return this.#stepStarts(now, count);
  }

  #stepStarts(now: number, count: number): number[] {
    const current = this.#alignedStart(now);
    return Array.from(
      { length: count },
      (_, index) => current - (count - 1 - index) * this.#stepMs,
    );
  }

  #histogramOf(
    steps: readonly Step[],
    name: string,
    labels: Readonly<Record<string, string>>,
  ): Map<number, number> {
    const buckets = new Map<number, number>();
    const bucketName = `${name}_bucket`;
    for (const step of steps) {
      for (const [key, increase] of step.increases) {
        const series = this.#series.get(key);
        if (series?.name !== bucketName || !labelsMatch(series.labels, labels)) continue;
        const bound = parseBound(series.labels.le ?? '+Inf');
        buckets.set(bound, (buckets.get(bound) ?? 0) + increase);
      }
    }
    return buckets;
  }

  #stepSum(step: Step, match: (series: SeriesId) => boolean): number {
    let total = 0;
    for (const [key, increase] of step.increases) {
      const series = this.#series.get(key);
      if (series !== undefined && match(series)) total += increase;
    }
    return total;
  }

  #alignedStart(time: number): number {
    return Math.floor(time / this.#stepMs) * this.#stepMs;
  }

  #stepAt(now: number): Step {
    const start = this.#alignedStart(now);
    const last = this.#steps.at(-1);
    // `now` only moves forward; should the clock step back, the latest step takes the increase
    // rather than the history being reordered.
    if (last !== undefined && last.start >= start) return last;
    const step: Step = { start, increases: new Map() };
    this.#steps.push(step);
    return step;
  }

  /** Counters and histogram samples (which only grow) apart from gauges (which move freely). */
  #flatten(snapshot: TelemetrySnapshot): {
    counters: Map<string, number>;
    gauges: Map<string, number>;
  } {
    const counters = new Map<string, number>();
    const gauges = new Map<string, number>();
    for (const metric of snapshot.metrics) {
      for (const sample of metric.samples) {
        if (!Number.isFinite(sample.value)) continue;
        const name = sample.name ?? metric.name;
        const labels = Object.fromEntries(
          Object.entries(sample.labels).map(([label, value]) => [label, String(value)]),
        );
        const key = seriesKey(name, labels);
        if (!this.#series.has(key)) this.#series.set(key, { name, labels });
        (metric.type === 'gauge' ? gauges : counters).set(key, sample.value);
      }
    }
    return { counters, gauges };
  }
}

/** `name{a="1",b="2"}` with the labels sorted, as Prometheus prints a series. */
export function seriesKey(name: string, labels: Readonly<Record<string, string>>): string {
  const parts = Object.keys(labels)
    .sort()
    .map((label) => `${label}=${JSON.stringify(labels[label])}`);
  return parts.length === 0 ? name : `${name}{${parts.join(',')}}`;
}

function labelsMatch(
  labels: Readonly<Record<string, string>>,
  wanted: Readonly<Record<string, string>>,
): boolean {
  return Object.entries(wanted).every(([label, value]) => labels[label] === value);
}
