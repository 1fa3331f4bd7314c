import type { Registry } from 'prom-client';
import type { TelemetryMetric, TelemetrySample } from './snapshot.js';

/**
 * The process metrics worth a console's column besides the service's own `s3relay_*` ones:
 * CPU time and resident memory (prom-client's default metrics).
 */
const PROCESS_METRICS = new Set(['process_cpu_seconds_total', 'process_resident_memory_bytes']);

/** True for the metrics a snapshot carries. */
export function isTelemetryMetric(name: string): boolean {
  return name.startsWith('s3relay_') || PROCESS_METRICS.has(name);
}

/**
 * Reads the current values of the registry's telemetry metrics. It asks each metric for its
 * values (running its collect hook, as a scrape would) instead of rendering the whole registry:
 * the default Node.js metrics the console does not show are not computed.
 */
export async function readTelemetryMetrics(registry: Registry): Promise<TelemetryMetric[]> {
  const metrics: TelemetryMetric[] = [];
  for (const { name } of registry.getMetricsAsArray()) {
    if (!isTelemetryMetric(name)) continue;
    const metric = registry.getSingleMetric(name);
    if (metric === undefined) continue;
    const { type, values } = await metric.get();
    const kind = String(type);
    if (kind !== 'counter' && kind !== 'gauge' && kind !== 'histogram') continue;
    metrics.push({
      name,
      type: kind,
      samples: values.map((value): TelemetrySample => {
        const sampleName = (value as { metricName?: string }).metricName;
        return {
          ...(sampleName === undefined || sampleName === name ? {} : { name: sampleName }),
          labels: value.labels as Record<string, string | number>,
          value: value.value,
        };
      }),
    });
  }
  return metrics;
}
