import type { ChannelModel, ConfirmChannel } from 'amqplib';
import {
  PermanentError,
  TransientError,
  formatDeleteLimit,
  formatDuration,
  type DeleteLimit,
} from '@s3relay/core';

/** The ledger queue of a limit: a new DELETE_LIMIT starts a ledger of its own. */
export function deleteLedgerName(prefix: string, limit: DeleteLimit): string {
  return `${prefix}.delete-ledger.${limit.count}-per-${formatDuration(limit.windowMs)}`;
}

/** What a grant records, for whoever reads the ledger queue in the management UI. */
export interface GrantRecord {
  readonly taskId: string;
  readonly bucket: string;
  readonly key: string;
}

export interface DeleteLedgerOptions {
  /** The broker connection of the worker (undefined while disconnected). */
  readonly connection: () => ChannelModel | undefined;
  readonly prefix: string;
  /** DELETE_LIMIT; with a count of 0 nothing is ever granted (and the broker never asked). */
  readonly limit: DeleteLimit;
  /** How long a grant may wait for the broker's answer (PUBLISH_TIMEOUT_MS). */
  readonly timeoutMs: number;
}

/**
 * The fleet's record of backup deletes in the last DELETE_LIMIT window, held by the broker, the
 * only state the workers share: a quorum queue `<prefix>.delete-ledger.<count>-per-<window>` with
 * `x-max-length` = count, `x-overflow: reject-publish` and `x-message-ttl` = window. A grant is
 * one persistent message published to it with a confirm: the broker acks it while the queue holds
 * fewer than `count` grants and nacks it when full, and every grant leaves the queue when its
 * window is over. So the queue's length is the number of deletes granted in the last window
 * (a sliding window, enforced by the queue's leader for every worker at once), nobody consumes
 * it, and there is nothing to refill, elect or repair after a crash.
 *
 * Tolerance: RabbitMQ checks the length when a grant arrives but tells publishers that the queue
 * is full only after it went over (on 3.10: at `count` + 1), so grants already on their way are
 * accepted. Each worker asks for one grant at a time (they queue up in this object), so the fleet
 * can exceed `count` in a window by at most one grant per worker process: at most
 * DELETE_LIMIT + workers deletes per window (measured on RabbitMQ 3.10: 10/window with 5 workers
 * each asking 20 times allowed 11 to 15). Everything else errs the safe way: a grant whose delete
 * then failed, or whose worker crashed before deleting, is spent for nothing; a redelivered task
 * asks again; a ledger the broker cannot reach fails the task (retried later), never grants.
 * RabbitMQ re-opens a full queue with some hysteresis (3.10: once it is down to 80%), which only
 * makes the breaker stay open longer.
 *
 * A changed DELETE_LIMIT names another ledger, so its window starts empty; the old ledger is
 * deleted by the broker (`x-expires`, twice the window) once no worker uses it.
 */
export class DeleteLedger {
  readonly #options: DeleteLedgerOptions;
  readonly #name: string;
  #channel: ConfirmChannel | undefined;
  /** When this process last declared the ledger (which renews its `x-expires`). */
  #declaredAt = Number.NEGATIVE_INFINITY;
  /** Grants are asked one at a time per process: see the tolerance above. */
  #queue: Promise<unknown> = Promise.resolve();
  #returned = false;

  constructor(options: DeleteLedgerOptions) {
    this.#options = options;
    this.#name = deleteLedgerName(options.prefix, options.limit);
  }

  get name(): string {
    return this.#name;
  }

  /**
   * Records one delete; resolves true when granted, false when the window's deletes are used up.
   * Thrown as a {@link TransientError} when the broker gives no answer (the task is retried
   * later, nothing is deleted meanwhile).
   */
  grant(record: GrantRecord, signal: AbortSignal): Promise<boolean> {
    const granted = this.#queue.then(() => this.#grant(record, signal));
    this.#queue = granted.catch(() => undefined);
    return granted;
  }

  async #grant(record: GrantRecord, signal: AbortSignal): Promise<boolean> {
    signal.throwIfAborted();
    if (this.#options.limit.count === 0) return false;
    const channel = await this.#open();
    const { windowMs } = this.#options.limit;
    // x-expires counts from the last declaration, not the last publish: renew it well within.
    if (performance.now() - this.#declaredAt > windowMs / 4) {
      await this.#declare(channel);
      this.#declaredAt = performance.now();
    }
    this.#returned = false;
    return new Promise<boolean>((resolve, reject) => {
      const timer = setTimeout(() => {
        // Its answer may still come; a new channel keeps it from being mistaken for the next.
        this.#drop(channel);
        reject(
          new TransientError(
            'RELAY_AMQP_PUBLISH_TIMEOUT',
            `no answer from the delete ledger ${this.#name} within ${this.#options.timeoutMs} ms`,
          ),
        );
      }, this.#options.timeoutMs);
      const settle = (error: unknown) => {
        clearTimeout(timer);
        if (error === null || error === undefined) {
          if (!this.#returned) resolve(true);
          else {
            // Unroutable: the ledger is gone (expired or deleted); declare it again next time.
            this.#declaredAt = Number.NEGATIVE_INFINITY;
            reject(
              new TransientError(
                'RELAY_AMQP_UNROUTABLE',
                `the delete ledger ${this.#name} does not exist`,
              ),
            );
          }
        } else if ((error as Error).message === 'message nacked') {
          resolve(this.#refused(channel));
        } else {
          reject(unavailable('the delete ledger channel closed before its answer', error));
        }
      };
      try {
        channel.publish(
          '',
          this.#name,
          Buffer.from(JSON.stringify({ ...record, at: new Date().toISOString() })),
          { persistent: true, mandatory: true, contentType: 'application/json' },
          settle,
        );
      } catch (err) {
        clearTimeout(timer);
        reject(unavailable('the delete ledger channel refused the grant', err));
      }
    });
  }

  /**
   * A nack means full only when the ledger holds grants. A nack of an empty ledger is the queue
   * not being ready (just created by another worker at the same moment, or without a leader):
   * that is no grant, and no reason to hold either, so the task is retried. RabbitMQ 3.10 may
   * also keep nacking on the channel of such a first publish (its queue client read an
   * outdated queue record), so that channel is replaced.
   */
  async #refused(channel: ConfirmChannel): Promise<false> {
    let grants: number;
    try {
      grants = (await channel.checkQueue(this.#name)).messageCount;
    } catch (err) {
      throw unavailable('could not read the delete ledger after it refused a grant', err);
    }
    if (grants > 0) return false;
    this.#drop(channel);
    throw new TransientError(
      'RELAY_AMQP_NACKED',
      `the delete ledger ${this.#name} refused a grant while empty (not ready yet)`,
    );
  }

  async #open(): Promise<ConfirmChannel> {
    if (this.#channel !== undefined) return this.#channel;
    const connection = this.#options.connection();
    if (connection === undefined) throw unavailable('not connected to the broker');
    let channel: ConfirmChannel;
    try {
      channel = await connection.createConfirmChannel();
    } catch (err) {
      throw unavailable('could not open a channel for the delete ledger', err);
    }
    channel.on('error', () => undefined);
    channel.on('return', () => {
      this.#returned = true;
    });
    channel.on('close', () => {
      if (this.#channel === channel) this.#channel = undefined;
      this.#declaredAt = Number.NEGATIVE_INFINITY;
    });
    this.#channel = channel;
    return channel;
  }

  async #declare(channel: ConfirmChannel): Promise<void> {
    const { count, windowMs } = this.#options.limit;
    try {
      await channel.assertQueue(this.#name, {
        durable: true,
        arguments: {
          'x-queue-type': 'quorum',
          'x-max-length': count,
          'x-overflow': 'reject-publish',
          'x-message-ttl': windowMs,
          'x-expires': 2 * windowMs,
        },
      });
    } catch (err) {
      if ((err as { code?: unknown }).code === 406) {
        throw new PermanentError(
          'RELAY_AMQP_TOPOLOGY_MISMATCH',
          `the delete ledger ${this.#name} exists with other arguments than DELETE_LIMIT ` +
            `${formatDeleteLimit(this.#options.limit)} asks; delete that queue (it holds only ` +
            'the grants of the current window)',
          { cause: err, context: { queue: this.#name } },
        );
      }
      throw unavailable('could not declare the delete ledger', err);
    }
  }

  #drop(channel: ConfirmChannel): void {
    if (this.#channel === channel) this.#channel = undefined;
    this.#declaredAt = Number.NEGATIVE_INFINITY;
    void channel.close().catch(() => undefined);
  }

  /** Closes its channel; a later grant opens another. */
  async close(): Promise<void> {
    const channel = this.#channel;
    this.#channel = undefined;
    await this.#queue;
    await channel?.close().catch(() => undefined);
  }
}

function unavailable(message: string, cause?: unknown): TransientError {
  return new TransientError('RELAY_AMQP_UNAVAILABLE', message, { cause });
}
