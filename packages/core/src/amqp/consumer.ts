import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { serializeError, silentLogger, type Logger } from '../logger.js';
import type { Broker } from './broker.js';

/** What the handler decided; the consumer acks or requeues accordingly. */
export type Settlement = 'ack' | 'requeue';

/** A message handler. It must be idempotent: deliveries are at-least-once. */
export type MessageHandler = (message: ConsumeMessage) => Promise<Settlement>;

export interface ConsumerOptions {
  readonly queue: string;
  /** Unacknowledged deliveries at once (the AMQP prefetch). */
  readonly prefetch: number;
  readonly handler: MessageHandler;
  readonly logger?: Logger;
}

/**
 * Consumes one queue with manual acks and a prefetch, and subscribes again after every reconnect.
 * A handler that throws requeues its message. When the channel dies while a handler runs, the
 * handler's result is dropped: the broker redelivers the message on its own.
 */
export class Consumer {
  readonly #broker: Broker;
  readonly #options: ConsumerOptions;
  readonly #logger: Logger;
  #channel: Channel | undefined;
  #consumerTag: string | undefined;
  #stopped = false;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #onConnected = (connection: ChannelModel) => {
    void this.#subscribe(connection);
  };

  constructor(broker: Broker, options: ConsumerOptions) {
    this.#broker = broker;
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Starts consuming now if connected, and after every reconnect. */
  start(): void {
    this.#broker.on('connected', this.#onConnected);
    const connection = this.#broker.connection;
    if (connection !== undefined) void this.#subscribe(connection);
  }

  /** True while subscribed. */
  get isConsuming(): boolean {
    return this.#consumerTag !== undefined;
  }

  /** Deliveries being handled now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  async #subscribe(connection: ChannelModel): Promise<void> {
    if (this.#stopped) return;
    try {
      const channel = await connection.createChannel();
      channel.on('error', (err: Error) => {
        this.#logger.warn('consumer channel error', { error: err });
      });
      channel.on('close', () => {
        if (this.#channel !== channel) return;
        this.#channel = undefined;
        this.#consumerTag = undefined;
        // A channel can close while the connection stays up (e.g. a consumer timeout);
        // subscribe again on the same connection.
        const current = this.#broker.connection;
        if (!this.#stopped && current === connection) {
          setTimeout(() => void this.#subscribe(current), 250).unref();
        }
      });
      await channel.prefetch(this.#options.prefetch);
      this.#channel = channel;
      const { consumerTag } = await channel.consume(
        this.#options.queue,
        (message) => {
          if (message === null) {
            this.#logger.warn('consumer cancelled by the broker', { queue: this.#options.queue });
            return;
          }
          this.#track(this.#handle(channel, message));
        },
        { noAck: false },
      );
      this.#consumerTag = consumerTag;
      if (this.#stopped) await this.#cancel();
      this.#logger.info('consuming', {
        queue: this.#options.queue,
        prefetch: this.#options.prefetch,
      });
    } catch (err) {
      this.#logger.warn('subscribe failed', { error: serializeError(err) });
    }
  }

  #track(work: Promise<void>): void {
    this.#inFlight.add(work);
    void work.finally(() => this.#inFlight.delete(work));
  }

  async #handle(channel: Channel, message: ConsumeMessage): Promise<void> {
    let settlement: Settlement;
    try {
      settlement = await this.#options.handler(message);
    } catch (err) {
      this.#logger.error('handler failed; requeueing', { error: serializeError(err) });
      settlement = 'requeue';
    }
    if (this.#channel !== channel) {
      this.#logger.debug('channel gone before settlement; the broker redelivers', {
        messageId: message.properties.messageId as unknown,
      });
      return;
    }
    try {
      if (settlement === 'ack') channel.ack(message);
      else channel.nack(message, false, true);
    } catch (err) {
      this.#logger.debug('settlement failed; the broker redelivers', {
        error: serializeError(err),
      });
    }
  }

  async #cancel(): Promise<void> {
    const channel = this.#channel;
    const tag = this.#consumerTag;
    this.#consumerTag = undefined;
    if (channel !== undefined && tag !== undefined) {
      await channel.cancel(tag).catch(() => undefined);
    }
  }

  /** Stops new deliveries; running handlers go on. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#broker.off('connected', this.#onConnected);
    await this.#cancel();
  }

  /** Resolves when every running handler has settled, or after `timeoutMs`; true if all did. */
  async drain(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const all = Promise.allSettled([...this.#inFlight]).then(() => true);
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const drained = await Promise.race([all, timeout]);
    clearTimeout(timer);
    return drained;
  }

  /** Stops, and closes the channel: unacknowledged messages go back to the queue. */
  async close(): Promise<void> {
    await this.stop();
    const channel = this.#channel;
    this.#channel = undefined;
    await channel?.close().catch(() => undefined);
  }
}
