import type { ChannelModel, ConfirmChannel, Message } from 'amqplib';
import { TransientError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { Broker } from './broker.js';

/** One message for one queue (published through the default exchange). */
export interface OutgoingMessage {
  readonly queue: string;
  readonly body: Buffer;
  readonly messageId: string;
  readonly headers?: Readonly<Record<string, unknown>>;
}

export interface PublisherOptions {
  /** Every publish settles within this time: confirmed, or rejected with a timeout. */
  readonly timeoutMs: number;
  /** Messages awaiting their confirm at once; beyond it `publish` rejects at once. */
  readonly maxInFlight: number;
  readonly logger?: Logger;
}

interface Pending {
  readonly messageId: string;
  /** The channel it was published on: its close fails only its own messages. */
  readonly channel: ConfirmChannel;
  returned: boolean;
  settle(error: Error | undefined): void;
}

/**
 * Publishes persistent messages with publisher confirms and the mandatory flag, on one confirm
 * channel of a {@link Broker}. It never buffers: while the broker is down, blocked or over the
 * in-flight bound, `publish` rejects at once with a {@link TransientError}; otherwise every
 * message settles within `timeoutMs`. A resolved `publish` means the broker has every message.
 */
export class Publisher {
  readonly #broker: Broker;
  readonly #options: PublisherOptions;
  readonly #logger: Logger;
  #channel: ConfirmChannel | undefined;
  #opening: Promise<ConfirmChannel> | undefined;
  readonly #pending = new Set<Pending>();
  #closed = false;

  constructor(broker: Broker, options: PublisherOptions) {
    this.#broker = broker;
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    broker.on('disconnected', () => {
      this.#failAll(unavailable('the broker connection was lost before the confirm'));
    });
  }

  /** Messages awaiting their confirm. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** True when a publish now would be attempted (connected and not blocked). */
  get isReady(): boolean {
    return !this.#closed && this.#broker.connection !== undefined && !this.#broker.isBlocked;
  }

  /**
   * Publishes every message and resolves once the broker confirmed all of them. Rejects with a
   * {@link TransientError} when any is nacked, returned as unroutable, not confirmed in time, or
   * cannot be sent; some of the batch may then be in the queue (at-least-once: the sender retries).
   */
  async publish(messages: readonly OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    if (this.#closed) throw unavailable('the publisher is closed');
    if (this.#broker.isBlocked) {
      throw new TransientError(
        'RELAY_AMQP_BLOCKED',
        'the broker blocks publishing (resource alarm)',
      );
    }
    if (this.#pending.size + messages.length > this.#options.maxInFlight) {
      throw new TransientError(
        'RELAY_AMQP_OVERLOADED',
        `${this.#pending.size} messages already await their confirm (limit ${this.#options.maxInFlight})`,
      );
    }
    const deadline = Date.now() + this.#options.timeoutMs;
    // Opening the channel counts against the timeout: on a connection that went silent (a
    // black-holed node, before the heartbeat notices) it would never finish. An open channel
    // needs no race against a timer (one per webhook on the ingress).
    const channel = this.#channel ?? (await this.#channelBefore(deadline));
    const results = messages.map((message) => this.#publishOne(channel, message, deadline));
    const outcomes = await Promise.allSettled(results);
    const failure = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failure?.status === 'rejected') throw failure.reason;
  }

  #publishOne(channel: ConfirmChannel, message: OutgoingMessage, deadline: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined = undefined;
      const pending: Pending = {
        messageId: message.messageId,
        channel,
        returned: false,
        settle: (error) => {
          if (!this.#pending.delete(pending)) return;
          clearTimeout(timer);
          if (error === undefined) resolve();
          else reject(error);
        },
      };
      this.#pending.add(pending);
      timer = setTimeout(() => {
        pending.settle(
          new TransientError(
            'RELAY_AMQP_PUBLISH_TIMEOUT',
            `no confirm from the broker within ${this.#options.timeoutMs} ms`,
          ),
        );
      }, deadline - Date.now());
      try {
        channel.publish(
          '',
          message.queue,
          message.body,
          {
            persistent: true,
            mandatory: true,
            contentType: 'application/json',
            messageId: message.messageId,
            timestamp: Math.floor(Date.now() / 1000),
            headers: { ...message.headers },
          },
          (err: unknown) => {
            if (err !== null && err !== undefined) {
              // amqplib fails unconfirmed messages with 'channel closed' when the channel or
              // connection goes away; only 'message nacked' is the broker's own refusal.
              const nacked = (err as Error).message === 'message nacked';
              pending.settle(
                nacked
                  ? new TransientError('RELAY_AMQP_NACKED', 'the broker nacked the message')
                  : unavailable('the channel closed before the confirm', err),
              );
              if (nacked) this.#retire(channel);
            } else if (pending.returned) {
              pending.settle(
                new TransientError(
                  'RELAY_AMQP_UNROUTABLE',
                  `the broker could not route the message to queue "${message.queue}"`,
                ),
              );
            } else {
              pending.settle(undefined);
            }
          },
        );
      } catch (err) {
        pending.settle(unavailable('the channel refused the message', err));
      }
    });
  }

  async #channelBefore(deadline: number): Promise<ConfirmChannel> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.#currentChannel(),
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => {
            reject(
              new TransientError(
                'RELAY_AMQP_PUBLISH_TIMEOUT',
                `no channel from the broker within ${this.#options.timeoutMs} ms`,
              ),
            );
          }, deadline - Date.now());
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #currentChannel(): Promise<ConfirmChannel> {
    if (this.#channel !== undefined) return this.#channel;
    const connection = this.#broker.connection;
    if (connection === undefined) throw unavailable('not connected to the broker');
    this.#opening ??= this.#openChannel(connection).finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  async #openChannel(connection: ChannelModel): Promise<ConfirmChannel> {
    let channel: ConfirmChannel;
    try {
      channel = await connection.createConfirmChannel();
    } catch (err) {
      throw unavailable('could not open a channel', err);
    }
    channel.on('error', (err: Error) => {
      this.#logger.warn('publish channel error', { error: err });
    });
    // RabbitMQ sends basic.return before the confirm of the same message.
    channel.on('return', (returned: Message) => {
      const messageId = returned.properties.messageId as string | undefined;
      for (const pending of this.#pending) {
        if (pending.messageId === messageId) pending.returned = true;
      }
    });
    channel.on('close', () => {
      if (this.#channel === channel) this.#channel = undefined;
      const error = unavailable('the publish channel closed before the confirm');
      for (const pending of [...this.#pending])
        if (pending.channel === channel) pending.settle(error);
    });
    this.#channel = channel;
    return channel;
  }

  /**
   * Publishes no more on `channel` after a nack, and closes it once its other confirms had their
   * time. RabbitMQ 3.10 sets up a channel's quorum-queue client from the queue record, which
   * still names the old leader for a while after a failover; a channel whose first publish went
   * to that dead node nacks every later publish (rabbitmq-server#9241, fixed in 3.11). A new
   * channel reads the record again.
   */
  #retire(channel: ConfirmChannel): void {
    if (this.#channel !== channel) return;
    this.#channel = undefined;
    this.#logger.info('publish channel replaced after a nack');
    setTimeout(() => void channel.close().catch(() => undefined), this.#options.timeoutMs).unref();
  }

  #failAll(error: Error): void {
    for (const pending of [...this.#pending]) pending.settle(error);
  }

  /** Waits for outstanding confirms (each bounded by the timeout), then closes the channel. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const deadline = Date.now() + this.#options.timeoutMs;
    while (this.#pending.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const channel = this.#channel;
    this.#channel = undefined;
    if (channel === undefined) return;
    // amqplib never settles a channel's close when the connection dies meanwhile (reset, or
    // silent until the heartbeat gives up): bounded by the publish timeout like every other wait.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      channel.close().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#options.timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }
}

function unavailable(message: string, cause?: unknown): TransientError {
  return new TransientError('RELAY_AMQP_UNAVAILABLE', message, { cause });
}
