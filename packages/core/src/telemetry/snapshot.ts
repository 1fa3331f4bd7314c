import { z } from 'zod';

/**
 * What one ingress or worker tells the console every TELEMETRY_INTERVAL_MS: who it is and the
 * current values of its own Prometheus metrics, cumulative as Prometheus exports them. Counters
 * only grow during a process's life (its `id` is new at every start), so a reader derives rates
 * and windowed percentiles from the difference between two snapshots of one process, and sums
 * those differences over any number of processes.
 */
export interface TelemetrySnapshot {
  readonly v: 1;
  /** Unique per process start and role (`worker:<host>:<pid>:<random>`). */
  readonly id: string;
  readonly role: TelemetryRole;
  readonly host: string;
  readonly pid: number;
  /** Epoch milliseconds. */
  readonly startedAt: number;
  readonly sentAt: number;
  /** The sender's TELEMETRY_INTERVAL_MS: a reader that hears nothing for a few of these ages it out. */
  readonly intervalMs: number;
  /** The last snapshot of a process that is shutting down. */
  readonly stopping: boolean;
  /** A few facts about the process (a worker's concurrency, its action). */
  readonly details: Readonly<Record<string, string | number>>;
  readonly metrics: readonly TelemetryMetric[];
}

export const TELEMETRY_ROLES = ['ingress', 'worker'] as const;
export type TelemetryRole = (typeof TELEMETRY_ROLES)[number];

/** One metric as prom-client reports it; a histogram's samples carry `_bucket`/`_sum`/`_count`. */
export interface TelemetryMetric {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly samples: readonly TelemetrySample[];
}

export interface TelemetrySample {
  /** The sample's own name when it differs from the metric's (`<name>_bucket`, `_sum`, `_count`). */
  readonly name?: string;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
}

/** The non-durable fanout exchange snapshots are published to; nothing is kept when no one listens. */
export function telemetryExchange(prefix: string): string {
  return `${prefix}.telemetry`;
}

const label = z.union([z.string(), z.number()]);
const SnapshotSchema = z.object({
  v: z.literal(1),
  id: z.string().min(1).max(300),
  role: z.enum(TELEMETRY_ROLES),
  host: z.string().max(300),
  pid: z.number().int(),
  startedAt: z.number(),
  sentAt: z.number(),
  intervalMs: z.number().positive(),
  stopping: z.boolean(),
  details: z.record(z.string(), label),
  metrics: z
    .array(
      z.object({
        name: z.string(),
        type: z.enum(['counter', 'gauge', 'histogram']),
        samples: z.array(
          z.object({
            name: z.string().optional(),
            labels: z.record(z.string(), label),
            // prom-client reports +Inf bucket bounds and NaN gauges as numbers JSON cannot carry.
            value: z
              .number()
              .nullable()
              .transform((value) => value ?? Number.NaN),
          }),
        ),
      }),
    )
    .max(500),
});

/** Parses a received snapshot; undefined for anything that is not a v1 snapshot. */
export function parseTelemetrySnapshot(body: Buffer | string): TelemetrySnapshot | undefined {
  let json: unknown;
  try {
    json = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    return undefined;
  }
  const result = SnapshotSchema.safeParse(json);
  return result.success ? result.data : undefined;
}
