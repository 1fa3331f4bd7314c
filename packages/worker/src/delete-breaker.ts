import {
  TaskHeaders,
  formatDeleteLimit,
  type DeleteLimit,
  type Logger,
  type Task,
} from '@s3relay/core';
import type { OutgoingMessage } from '@s3relay/core/amqp';
import type { DeleteLedger } from './delete-ledger.js';
import type { WorkerMetrics } from './metrics.js';

export interface DeleteBreakerOptions {
  readonly ledger: Pick<DeleteLedger, 'grant' | 'name'>;
  /** Publishes with a confirm; resolves once the broker has the message. */
  readonly publish: (messages: readonly OutgoingMessage[]) => Promise<void>;
  /** `<prefix>.held`. */
  readonly heldQueue: string;
  readonly limit: DeleteLimit;
  readonly metrics: Pick<WorkerMetrics, 'deletesHeld' | 'breakerTrips' | 'breakerOpen'>;
  readonly logger: Logger;
}

/** Whether a delete may run now, or was held for an operator. */
export type BreakerVerdict = 'granted' | 'held';

/**
 * The delete breaker: the last step before a backup delete. It asks the fleet's
 * {@link DeleteLedger} for a grant; when DELETE_LIMIT's window is used up the delete is not
 * executed but held: the task is published to `<prefix>.held` with the reason, and only once the
 * broker confirmed that copy does the caller go on (and the task get acked), so a held delete is
 * never lost. `s3relay held release` puts it back in the tasks queue, where it is reconciled
 * again from the start: the source is asked again, and the breaker too.
 *
 * The breaker opens when a grant is refused and closes again at the next grant. Near the limit
 * it may flap (the ledger refuses one worker while a grant of another is still on its way, see
 * the tolerance in delete-ledger.ts), so a trip is reported — one warning log line and one count
 * of `s3relay_worker_delete_breaker_trips_total` — at most once per DELETE_LIMIT window by each
 * worker, never once per held delete.
 */
export class DeleteBreaker {
  readonly #options: DeleteBreakerOptions;
  #open = false;
  /** When this worker last reported a trip (`performance.now()`). */
  #reportedAt = Number.NEGATIVE_INFINITY;

  constructor(options: DeleteBreakerOptions) {
    this.#options = options;
  }

  /** True while the last answer of the ledger was a refusal. */
  get isOpen(): boolean {
    return this.#open;
  }

  async pass(task: Task, signal: AbortSignal): Promise<BreakerVerdict> {
    const { ledger, limit, metrics, logger } = this.#options;
    const granted = await ledger.grant(
      { taskId: task.id, bucket: task.bucket, key: task.key },
      signal,
    );
    if (granted) {
      if (this.#open) {
        this.#open = false;
        metrics.breakerOpen.set(0);
        logger.info('delete breaker closed; deleting again', {
          limit: formatDeleteLimit(limit),
        });
      }
      return 'granted';
    }
    await this.#hold(task);
    metrics.deletesHeld.inc();
    if (this.#open) return 'held';
    this.#open = true;
    metrics.breakerOpen.set(1);
    if (performance.now() - this.#reportedAt >= limit.windowMs) {
      this.#reportedAt = performance.now();
      metrics.breakerTrips.inc();
      logger.warn('delete breaker tripped; holding backup deletes', {
        code: 'RELAY_DELETE_LIMIT_REACHED',
        limit: formatDeleteLimit(limit),
        ledger: ledger.name,
        heldQueue: this.#options.heldQueue,
        firstHeld: { bucket: task.bucket, key: task.key, taskId: task.id },
      });
    }
    return 'held';
  }

  async #hold(task: Task): Promise<void> {
    const limit = formatDeleteLimit(this.#options.limit);
    await this.#options.publish([
      {
        queue: this.#options.heldQueue,
        body: Buffer.from(JSON.stringify(task)),
        messageId: task.id,
        headers: {
          [TaskHeaders.heldCode]: 'RELAY_DELETE_LIMIT_REACHED',
          [TaskHeaders.heldReason]:
            `DELETE_LIMIT ${limit} reached: the workers already deleted as many backup ` +
            'objects in the window; this delete was not executed',
          [TaskHeaders.heldAt]: new Date().toISOString(),
        },
      },
    ]);
  }
}
