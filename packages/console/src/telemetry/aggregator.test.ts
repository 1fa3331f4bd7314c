import { describe, expect, it } from 'vitest';
import type { TelemetrySnapshot } from '@s3relay/core/telemetry';
import { TelemetryAggregator } from './aggregator.js';
import { histogramQuantile } from './histogram.js';

const TASKS = 's3relay_worker_tasks_total';
const LAG = 's3relay_worker_replication_lag_seconds';
const T0 = 1_700_000_000_000;

/** A worker's snapshot with `copied` tasks so far and lag observations per bucket bound. */
function worker(
  id: string,
  sentAt: number,
  copied: number,
  lag: [number | '+Inf', number][] = [],
  extra: Partial<TelemetrySnapshot> = {},
): TelemetrySnapshot {
  let cumulative = 0;
  return {
    v: 1,
    id,
    role: 'worker',
    host: 'h',
    pid: 1,
    startedAt: T0,
    sentAt,
    intervalMs: 1000,
    stopping: false,
    details: {},
    metrics: [
      {
        name: TASKS,
        type: 'counter',
        samples: [{ labels: { outcome: 'copied' }, value: copied }],
      },
      {
        name: 's3relay_worker_tasks_in_flight',
        type: 'gauge',
        samples: [{ labels: {}, value: 3 }],
      },
      {
        name: LAG,
        type: 'histogram',
        samples: lag.map(([le, count]) => {
          cumulative += count;
          return { name: `${LAG}_bucket`, labels: { le }, value: cumulative };
        }),
      },
    ],
    ...extra,
  };
}

const copied = (series: { name: string; labels: Readonly<Record<string, string>> }) =>
  series.name === TASKS && series.labels.outcome === 'copied';

describe('TelemetryAggregator', () => {
  it("adds up the increases of every process, counting a young process's first snapshot from zero", () => {
    const aggregator = new TelemetryAggregator({ stepMs: 10_000 });
    aggregator.ingest(worker('a', T0 + 1000, 5), T0 + 1000);
    aggregator.ingest(worker('b', T0 + 1000, 2), T0 + 1000);
    aggregator.ingest(worker('a', T0 + 2000, 9), T0 + 2000);
    aggregator.ingest(worker('b', T0 + 2000, 2), T0 + 2000);
    expect(aggregator.increase(copied, 0)).toBe(11);
  });

  it("takes a long-running process's first snapshot as its baseline", () => {
    const aggregator = new TelemetryAggregator({ stepMs: 10_000 });
    const old = T0 + 3_600_000;
    aggregator.ingest(worker('a', old, 100_000), old);
    aggregator.ingest(worker('a', old + 1000, 100_004), old + 1000);
    expect(aggregator.increase(copied, 0)).toBe(4);
  });

  it('puts each increase into the step it arrived in', () => {
    const aggregator = new TelemetryAggregator({ stepMs: 10_000 });
    const base = Math.ceil(T0 / 10_000) * 10_000;
    const at = (offset: number) => base + offset;
    aggregator.ingest(worker('a', at(1000), 1), at(1000));
    aggregator.ingest(worker('a', at(11_000), 4), at(11_000));
    aggregator.ingest(worker('a', at(12_000), 6), at(12_000));
    aggregator.ingest(worker('a', at(31_000), 7), at(31_000));
    expect(aggregator.perStep(copied, at(31_000), 4)).toEqual([1, 5, 0, 1]);
    expect(aggregator.increase(copied, at(10_000))).toBe(6);
  });

  it('merges histograms across processes and answers windowed percentiles', () => {
    const aggregator = new TelemetryAggregator();
    aggregator.ingest(
      worker('a', T0 + 1000, 0, [
        [0.1, 90],
        [1, 0],
        ['+Inf', 0],
      ]),
      T0 + 1000,
    );
    aggregator.ingest(
      worker('b', T0 + 1000, 0, [
        [0.1, 0],
        [1, 10],
        ['+Inf', 0],
      ]),
      T0 + 1000,
    );
    const buckets = aggregator.histogram(LAG, 0);
    expect([...buckets.entries()].sort((x, y) => x[0] - y[0])).toEqual([
      [0.1, 90],
      [1, 100],
      [Infinity, 100],
    ]);
    // 99th of 100 observations: 9 of the 10 in (0.1, 1].
    expect(histogramQuantile(0.99, buckets)).toBeCloseTo(0.1 + 0.9 * 0.9, 10);
  });

  it('ignores a snapshot older than one already taken from the same process', () => {
    const aggregator = new TelemetryAggregator();
    aggregator.ingest(worker('a', T0 + 2000, 5), T0 + 2000);
    aggregator.ingest(worker('a', T0 + 1000, 3), T0 + 2100);
    aggregator.ingest(worker('a', T0 + 3000, 6), T0 + 3000);
    expect(aggregator.increase(copied, 0)).toBe(6);
  });

  it('derives per-process rates and keeps gauges', () => {
    const aggregator = new TelemetryAggregator();
    aggregator.ingest(worker('a', T0 + 1000, 10), T0 + 1000);
    aggregator.ingest(worker('a', T0 + 3000, 30), T0 + 3000);
    const [process] = aggregator.processes(T0 + 3000);
    expect(process?.rates.get(`${TASKS}{outcome="copied"}`)).toBe(10);
    expect(process?.gauges.get('s3relay_worker_tasks_in_flight')).toBe(3);
    expect(process?.state).toBe('live');
  });

  it('marks a quiet process late, then forgets it; a stopping one is shown stopped, then forgotten', () => {
    const aggregator = new TelemetryAggregator();
    aggregator.ingest(worker('quiet', T0 + 1000, 1), T0 + 1000);
    aggregator.ingest(worker('leaving', T0 + 1000, 1, [], { stopping: true }), T0 + 1000);
    const states = (now: number) =>
      Object.fromEntries(aggregator.processes(now).map((p) => [p.snapshot.id, p.state]));
    expect(states(T0 + 2000)).toEqual({ quiet: 'live', leaving: 'stopped' });
    expect(states(T0 + 5000)).toEqual({ quiet: 'late', leaving: 'stopped' });
    aggregator.prune(T0 + 40_000);
    expect(states(T0 + 40_000)).toEqual({ quiet: 'late' });
    aggregator.prune(T0 + 62_000);
    expect(states(T0 + 62_000)).toEqual({});
  });

  it('keeps only the history it was asked to', () => {
    const aggregator = new TelemetryAggregator({ stepMs: 10_000, historyMs: 60_000 });
    aggregator.ingest(worker('a', T0 + 1000, 1), T0 + 1000);
    aggregator.ingest(worker('a', T0 + 200_000, 2), T0 + 200_000);
    expect(aggregator.increase(copied, 0)).toBe(1);
  });
});
