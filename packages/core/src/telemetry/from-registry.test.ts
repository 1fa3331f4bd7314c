import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { readTelemetryMetrics } from './from-registry.js';
import { parseTelemetrySnapshot, type TelemetrySnapshot } from './snapshot.js';

function registryWithMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const tasks = new Counter({
    name: 's3relay_worker_tasks_total',
    help: 'tasks',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const lag = new Histogram({
    name: 's3relay_worker_replication_lag_seconds',
    help: 'lag',
    buckets: [0.1, 1],
    registers: [registry],
  });
  return { registry, tasks, lag };
}

describe('readTelemetryMetrics', () => {
  it("carries the service's own metrics and the process's CPU and memory, nothing else", async () => {
    const { registry, tasks } = registryWithMetrics();
    tasks.inc({ outcome: 'copied' }, 3);
    const names = (await readTelemetryMetrics(registry)).map((metric) => metric.name).sort();
    expect(names).toEqual([
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      's3relay_worker_replication_lag_seconds',
      's3relay_worker_tasks_total',
    ]);
  });

  it('reports counters by label and histograms as cumulative buckets, sum and count', async () => {
    const { registry, tasks, lag } = registryWithMetrics();
    tasks.inc({ outcome: 'copied' }, 3);
    tasks.inc({ outcome: 'retried' });
    lag.observe(0.05);
    lag.observe(0.5);
    lag.observe(7);
    const metrics = await readTelemetryMetrics(registry);
    const counter = metrics.find((metric) => metric.name === 's3relay_worker_tasks_total');
    expect(counter?.type).toBe('counter');
    expect(counter?.samples).toEqual([
      { labels: { outcome: 'copied' }, value: 3 },
      { labels: { outcome: 'retried' }, value: 1 },
    ]);
    const histogram = metrics.find(
      (metric) => metric.name === 's3relay_worker_replication_lag_seconds',
    );
    expect(histogram?.type).toBe('histogram');
    expect(histogram?.samples).toEqual([
      { name: 's3relay_worker_replication_lag_seconds_bucket', labels: { le: 0.1 }, value: 1 },
      { name: 's3relay_worker_replication_lag_seconds_bucket', labels: { le: 1 }, value: 2 },
      { name: 's3relay_worker_replication_lag_seconds_bucket', labels: { le: '+Inf' }, value: 3 },
      { name: 's3relay_worker_replication_lag_seconds_sum', labels: {}, value: 7.55 },
      { name: 's3relay_worker_replication_lag_seconds_count', labels: {}, value: 3 },
    ]);
  });

  it('survives the trip through JSON into a parsed snapshot', async () => {
    const { registry, tasks } = registryWithMetrics();
    tasks.inc({ outcome: 'copied' });
    const snapshot: TelemetrySnapshot = {
      v: 1,
      id: 'worker:h:1:abcd',
      role: 'worker',
      host: 'h',
      pid: 1,
      startedAt: 1,
      sentAt: 2,
      intervalMs: 5000,
      stopping: false,
      details: { concurrency: 16 },
      metrics: await readTelemetryMetrics(registry),
    };
    expect(parseTelemetrySnapshot(Buffer.from(JSON.stringify(snapshot)))).toEqual(snapshot);
  });

  it('refuses what is not a v1 snapshot', () => {
    expect(parseTelemetrySnapshot('not json')).toBeUndefined();
    expect(parseTelemetrySnapshot('{"v":2}')).toBeUndefined();
    expect(
      parseTelemetrySnapshot(JSON.stringify({ v: 1, id: 'x', role: 'janitor', metrics: [] })),
    ).toBeUndefined();
  });
});
