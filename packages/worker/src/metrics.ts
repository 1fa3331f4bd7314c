import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** How a task ended, as counted in `s3relay_worker_tasks_total{outcome}`. */
export type TaskOutcome =
  /** The source object was streamed to the backup. */
  | 'copied'
  /** The source object is gone and so is now its backup. */
  | 'deleted'
  /** The backup already matched the source. */
  | 'unchanged'
  /** Nothing to do: the source is gone and the backup too (or deletes are not replicated). */
  | 'absent'
  /** The source is gone, but DELETE_LIMIT was reached: the delete went to `<prefix>.held`. */
  | 'held'
  /** ACTION=script: the script exited 0. */
  | 'executed'
  /** ACTION=script: the event kind has no script verb. */
  | 'ignored'
  /** Failed; a copy went to a retry tier. */
  | 'retried'
  /** Failed for good; a copy went to the DLQ. */
  | 'dead_lettered'
  /** Interrupted by shutdown (or a failed retry publish); back in the tasks queue. */
  | 'requeued';

/** The worker's Prometheus metrics, in a registry of its own. */
export interface WorkerMetrics {
  readonly registry: Registry;
  readonly tasks: Counter<'outcome'>;
  readonly bytesCopied: Counter;
  readonly copyDuration: Histogram;
  readonly replicationLag: Histogram;
  readonly inFlight: Gauge;
  readonly retries: Counter<'code'>;
  readonly deadLetters: Counter<'code'>;
  readonly rechecks: Counter;
  readonly redeliveries: Counter;
  readonly deletesHeld: Counter;
  readonly breakerTrips: Counter;
  readonly breakerOpen: Gauge;
}

/**
 * Creates the metrics in a new registry (not prom-client's global one), so that several workers
 * can live in one process, and adds the default Node.js process metrics to it.
 */
export function createWorkerMetrics(): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    tasks: new Counter({
      name: 's3relay_worker_tasks_total',
      help: 'Tasks handled, by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    bytesCopied: new Counter({
      name: 's3relay_worker_bytes_copied_total',
      help: 'Bytes written to the backup',
      registers,
    }),
    copyDuration: new Histogram({
      name: 's3relay_worker_copy_duration_seconds',
      help: 'Time to copy one object, from the source request to the written backup',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    }),
    replicationLag: new Histogram({
      name: 's3relay_worker_replication_lag_seconds',
      help: 'Time from the ingress accepting the event to the backup being written or deleted',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14_400, 86_400],
      registers,
    }),
    inFlight: new Gauge({
      name: 's3relay_worker_tasks_in_flight',
      help: 'Tasks being handled now',
      registers,
    }),
    retries: new Counter({
      name: 's3relay_worker_retries_total',
      help: 'Failed attempts sent to a retry tier, by error code',
      labelNames: ['code'],
      registers,
    }),
    deadLetters: new Counter({
      name: 's3relay_worker_dead_letters_total',
      help: 'Tasks sent to the DLQ, by error code',
      labelNames: ['code'],
      registers,
    }),
    rechecks: new Counter({
      name: 's3relay_worker_rechecks_total',
      help: 'Extra tasks enqueued because the source changed while it was being replicated',
      registers,
    }),
    redeliveries: new Counter({
      name: 's3relay_worker_redeliveries_total',
      help: 'Deliveries the broker marked as redelivered (each counts towards AMQP_DELIVERY_LIMIT)',
      registers,
    }),
    deletesHeld: new Counter({
      name: 's3relay_worker_deletes_held_total',
      help: 'Backup deletes held in <prefix>.held instead of executed (DELETE_LIMIT reached)',
      registers,
    }),
    breakerTrips: new Counter({
      name: 's3relay_worker_delete_breaker_trips_total',
      help: 'Times the delete breaker tripped: a delete refused by DELETE_LIMIT after one allowed',
      registers,
    }),
    breakerOpen: new Gauge({
      name: 's3relay_worker_delete_breaker_open',
      help: '1 while the delete breaker holds deletes (its last answer was DELETE_LIMIT reached)',
      registers,
    }),
  };
}
