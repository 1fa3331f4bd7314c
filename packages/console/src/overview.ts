import type {
  FailureView,
  HeldSummary,
  LagFigures,
  OverviewResponse,
  ProcessView,
  QueueView,
  Series,
  WindowFigures,
} from './api-types.js';
import type { QueueMonitor } from './queues/queue-monitor.js';
import type { SeriesId, TelemetryAggregator } from './telemetry/aggregator.js';
import { histogramQuantile, type CumulativeBuckets } from './telemetry/histogram.js';

/** The metrics the console reads from the snapshots (the services' Prometheus names). */
export const METRICS = {
  tasks: 's3relay_worker_tasks_total',
  bytesCopied: 's3relay_worker_bytes_copied_total',
  lag: 's3relay_worker_replication_lag_seconds',
  inFlight: 's3relay_worker_tasks_in_flight',
  retries: 's3relay_worker_retries_total',
  deadLetters: 's3relay_worker_dead_letters_total',
  requests: 's3relay_ingress_requests_total',
  records: 's3relay_ingress_records_published_total',
  cpu: 'process_cpu_seconds_total',
  rss: 'process_resident_memory_bytes',
} as const;

/** The window of the "now" figures. */
const NOW_WINDOW_MS = 60_000;

const named =
  (name: string) =>
  (series: SeriesId): boolean =>
    series.name === name;
const outcome =
  (...outcomes: string[]) =>
  (series: SeriesId): boolean =>
    series.name === METRICS.tasks && outcomes.includes(series.labels.outcome ?? '');
/** Webhook requests that carried events (not handshakes, refusals or failures). */
const webhook = (series: SeriesId): boolean =>
  series.name === METRICS.requests &&
  ['accepted', 'duplicate'].includes(series.labels.outcome ?? '');

export interface OverviewInputs {
  readonly now: number;
  /** When the console started: the charts do not show the time before as zeros. */
  readonly since: number;
  readonly prefix: string;
  readonly broker: { readonly connected: boolean; readonly url: string };
  readonly aggregator: TelemetryAggregator;
  readonly queues: QueueMonitor;
  readonly held: HeldSummary;
}

/** Everything the overview page shows, from the telemetry and the queue samples. */
export function buildOverview(inputs: OverviewInputs): OverviewResponse {
  const { now, aggregator } = inputs;
  const processes = aggregator.processes(now);
  const latest = inputs.queues.latest;
  const queues: QueueView[] = (latest?.queues ?? []).map((queue) => ({
    ...queue,
    changeLastMinute: inputs.queues.changeLastMinute(queue.queue, now),
  }));
  const intervals = processes.map((process) => process.snapshot.intervalMs);
  return {
    now,
    prefix: inputs.prefix,
    broker: inputs.broker,
    queues,
    workers: {
      reporting: processes.filter(
        (process) => process.snapshot.role === 'worker' && process.state !== 'stopped',
      ).length,
      consumers: latest?.queues.find((queue) => queue.role === 'tasks')?.consumers,
    },
    processes: processes
      .map((process): ProcessView => {
        const { snapshot, gauges } = process;
        const rate = (match: (series: SeriesId) => boolean) => aggregator.rateOf(process, match);
        const cpu = rate(named(METRICS.cpu));
        return {
          id: snapshot.id,
          role: snapshot.role,
          host: snapshot.host,
          pid: snapshot.pid,
          startedAt: snapshot.startedAt,
          lastSeenAt: process.lastSeenAt,
          state: process.state,
          details: snapshot.details,
          inFlight: gauges.get(METRICS.inFlight),
          perSecond:
            snapshot.role === 'worker' ? rate(named(METRICS.tasks)) : rate(named(METRICS.records)),
          cpuPercent: cpu === undefined ? undefined : cpu * 100,
          rssBytes: gauges.get(METRICS.rss),
        };
      })
      .sort(
        (a, b) => a.role.localeCompare(b.role) || a.host.localeCompare(b.host) || a.pid - b.pid,
      ),
    now1m: windowFigures(aggregator, now, NOW_WINDOW_MS),
    series: series(aggregator, inputs.queues, now, inputs.since),
    failures: failures(aggregator, now - aggregator.historyMs),
    held: inputs.held,
    telemetryIntervalMs: intervals.length === 0 ? undefined : Math.max(...intervals),
  };
}

function windowFigures(
  aggregator: TelemetryAggregator,
  now: number,
  windowMs: number,
): WindowFigures {
  // Whole steps: the window starts at the step boundary at or before now - windowMs.
  const since = Math.floor((now - windowMs) / aggregator.stepMs) * aggregator.stepMs;
  const seconds = (now - since) / 1000;
  const perSecond = (match: (series: SeriesId) => boolean) =>
    aggregator.increase(match, since) / seconds;
  return {
    windowMs: now - since,
    copiedPerSecond: perSecond(outcome('copied', 'executed')),
    deletedPerSecond: perSecond(outcome('deleted')),
    unchangedPerSecond: perSecond(outcome('unchanged', 'absent', 'ignored')),
    retriedPerSecond: perSecond(outcome('retried')),
    deadLetteredPerSecond: perSecond(outcome('dead_lettered')),
    bytesPerSecond: perSecond(named(METRICS.bytesCopied)),
    webhooksPerSecond: perSecond(webhook),
    recordsPerSecond: perSecond(named(METRICS.records)),
    lag: lagFigures(aggregator.histogram(METRICS.lag, since)),
  };
}

/** The charts span at least this many steps, so a young console's charts are not one point. */
const MIN_STEPS = 12;

function series(
  aggregator: TelemetryAggregator,
  queues: QueueMonitor,
  now: number,
  since: number,
): Series {
  const known = Math.ceil((now - since) / aggregator.stepMs) + 1;
  const count = Math.min(
    Math.round(aggregator.historyMs / aggregator.stepMs),
    Math.max(MIN_STEPS, known),
  );
  const starts = aggregator.stepStarts(now, count);
  const seconds = aggregator.stepMs / 1000;
  const perSecond = (match: (series: SeriesId) => boolean) =>
    aggregator.perStep(match, now, count).map((value) => value / seconds);
  const lagSteps = aggregator.histogramPerStep(METRICS.lag, now, count);
  const ends = starts.map((start) => Math.min(now, start + aggregator.stepMs));
  return {
    start: starts[0] ?? now,
    stepMs: aggregator.stepMs,
    copied: perSecond(outcome('copied', 'executed', 'deleted')),
    failed: perSecond(outcome('retried', 'dead_lettered')),
    records: perSecond(named(METRICS.records)),
    bytes: perSecond(named(METRICS.bytesCopied)),
    lagP50: lagSteps.map((buckets) => histogramQuantile(0.5, buckets) ?? null),
    lagP99: lagSteps.map((buckets) => histogramQuantile(0.99, buckets) ?? null),
    depth: {
      tasks: queues.depthAt('tasks', ends),
      retry: queues.depthAt('retry', ends),
      dlq: queues.depthAt('dlq', ends),
    },
    lag: lagFigures(aggregator.histogram(METRICS.lag, starts[0] ?? now)),
  };
}

function failures(aggregator: TelemetryAggregator, since: number): FailureView[] {
  const retries = aggregator.increaseBy(named(METRICS.retries), 'code', since);
  const deadLetters = aggregator.increaseBy(named(METRICS.deadLetters), 'code', since);
  return [...new Set([...retries.keys(), ...deadLetters.keys()])]
    .map((code) => ({
      code,
      retries: retries.get(code) ?? 0,
      deadLetters: deadLetters.get(code) ?? 0,
    }))
    .sort((a, b) => b.deadLetters + b.retries - (a.deadLetters + a.retries));
}

function lagFigures(buckets: CumulativeBuckets): LagFigures {
  return {
    count: buckets.get(Infinity) ?? 0,
    p50: histogramQuantile(0.5, buckets),
    p90: histogramQuantile(0.9, buckets),
    p99: histogramQuantile(0.99, buckets),
  };
}
