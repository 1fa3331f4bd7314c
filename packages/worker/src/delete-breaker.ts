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
 * The breaker trips when a grant is refused after one was given (or at the first refusal), and
 * closes again at the next grant: each worker logs one warning per trip, not one per held
 * delete, and counts trips and held deletes in its metrics.
 */
export class DeleteBreaker {
  readonly #options: DeleteBreakerOptions;
  #open = false;

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
    if (!this.#open) {
      this.#open = true;
      metrics.breakerTrips.inc();
      metrics.breakerOpen.set(1);
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
