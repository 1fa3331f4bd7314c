import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { RelayError } from '../errors.js';
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

/** First wait before subscribing again after a failure; doubles up to {@link MAX_RETRY_MS}. */
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5000;

/**
 * Consumes one queue with manual acks and a prefetch, and subscribes again after every reconnect,
 * after a lost channel and after the broker cancelled the subscription (basic.cancel: the queue
 * was deleted, or its member on this node went away). Not consuming meanwhile
 * ({@link Consumer.isConsuming} is false, so a worker's /readyz answers 503); before subscribing
 * again it declares the topology again (the queue may be gone), and while that fails it logs why
 * and retries with backoff. A handler that throws requeues its message. When the channel dies
 * while a handler runs, the handler's result is dropped: the broker redelivers the message on
 * its own.
 */
export class Consumer {
  readonly #broker: Broker;
  readonly #options: ConsumerOptions;
  readonly #logger: Logger;
  #channel: Channel | undefined;
  #consumerTag: string | undefined;
  #stopped = false;
  #retryMs = FIRST_RETRY_MS;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #onConnected = (connection: ChannelModel) => {
    // The broker has just declared the topology on this connection.
    void this.#subscribe(connection, false);
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
    if (connection !== undefined) void this.#subscribe(connection, false);
  }

  /** True while subscribed. */
  get isConsuming(): boolean {
    return this.#consumerTag !== undefined;
  }

  /** Deliveries being handled now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  async #subscribe(connection: ChannelModel, redeclare: boolean): Promise<void> {
    if (this.#stopped) return;
    let channel: Channel | undefined;
    try {
      // A lost channel may have been lost with its queue (a 404 closes the channel).
      if (redeclare) await this.#broker.declare();
      channel = await connection.createChannel();
      const own = channel;
      own.on('error', (err: Error) => {
        this.#logger.warn('consumer channel error', { error: err });
      });
      own.on('close', () => {
        if (this.#channel !== own) return;
        this.#channel = undefined;
        this.#consumerTag = undefined;
        // A channel can close while the connection stays up (a consumer timeout, a consume of
        // a queue that is gone); subscribe again on the same connection.
        this.#subscribeSoon(connection);
      });
      this.#channel = own;
      await own.prefetch(this.#options.prefetch);
      await this.#consume(own);
    } catch (err) {
      this.#reportFailure(err);
      // Once the channel exists, its close event schedules the next attempt.
      if (channel === undefined) this.#subscribeSoon(connection);
    }
  }

  /** Subscribes on `channel`, which the consumer already owns. */
  async #consume(channel: Channel): Promise<void> {
    const { consumerTag } = await channel.consume(
      this.#options.queue,
      (message) => {
        if (message === null) this.#onCancelled(channel);
        else this.#track(this.#handle(channel, message));
      },
      { noAck: false },
    );
    if (this.#channel !== channel) return;
    this.#consumerTag = consumerTag;
    this.#retryMs = FIRST_RETRY_MS;
    if (this.#stopped) await this.#cancel();
    this.#logger.info('consuming', {
      queue: this.#options.queue,
      prefetch: this.#options.prefetch,
    });
  }

  /**
   * The broker ended the subscription but not the channel. Its deliveries in flight stay on the
   * channel, so they are settled there; the queue is declared again and consumed on it.
   */
  #onCancelled(channel: Channel): void {
    if (this.#channel !== channel) return;
    this.#consumerTag = undefined;
    this.#logger.warn('consumer cancelled by the broker; subscribing again', {
      queue: this.#options.queue,
      note: 'the queue was deleted, or its member on this node went away; not consuming (not ready) until subscribed again',
    });
    if (this.#stopped) return;
    void this.#consumeAgain(channel);
  }

  async #consumeAgain(channel: Channel): Promise<void> {
    try {
      await this.#broker.declare();
      if (this.#stopped || this.#channel !== channel) return;
      await this.#consume(channel);
    } catch (err) {
      if (this.#channel !== channel) return;
      this.#reportFailure(err);
      // Start over on a new channel, after the backoff (the close handler schedules it).
      await channel.close().catch(() => undefined);
    }
  }

  #subscribeSoon(connection: ChannelModel): void {
    if (this.#stopped || this.#broker.connection !== connection) return;
    const delayMs = this.#retryMs;
    this.#retryMs = Math.min(MAX_RETRY_MS, delayMs * 2);
    setTimeout(() => {
      if (this.#broker.connection === connection) void this.#subscribe(connection, true);
    }, delayMs).unref();
  }

  /** At error level when retrying cannot help by itself (a topology mismatch). */
  #reportFailure(err: unknown): void {
    const permanent = err instanceof RelayError && !err.retryable;
    this.#logger[permanent ? 'error' : 'warn']('subscribe failed', {
      queue: this.#options.queue,
      error: serializeError(err),
      retryInMs: this.#retryMs,
    });
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
