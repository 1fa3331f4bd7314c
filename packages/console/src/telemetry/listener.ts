import { randomBytes } from 'node:crypto';
import type { Channel, ChannelModel } from 'amqplib';
import { silentLogger, type Logger } from '@s3relay/core';
import type { Broker } from '@s3relay/core/amqp';
import { parseTelemetrySnapshot, telemetryExchange } from '@s3relay/core/telemetry';
import type { TelemetryAggregator } from './aggregator.js';

export interface TelemetryListenerOptions {
  readonly broker: Broker;
  readonly prefix: string;
  readonly aggregator: TelemetryAggregator;
  readonly logger?: Logger;
  readonly now?: () => number;
}

/**
 * Hears every process's snapshots: an exclusive, auto-deleted queue of its own bound to
 * `<prefix>.telemetry`, so any number of consoles each hear everything and nothing is left behind
 * when one goes. The queue is bounded (length and age), so a console that falls behind drops
 * old snapshots rather than filling the broker. Rebound on every reconnect.
 */
export class TelemetryListener {
  readonly #options: TelemetryListenerOptions;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #queue: string;
  #channel: Channel | undefined;
  #received = 0;
  #closed = false;
  readonly #onConnected = (connection: ChannelModel) => {
    void this.#subscribe(connection);
  };

  constructor(options: TelemetryListenerOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#queue = `${options.prefix}.console.${randomBytes(4).toString('hex')}`;
  }

  /** Snapshots taken so far. */
  get received(): number {
    return this.#received;
  }

  start(): void {
    this.#options.broker.on('connected', this.#onConnected);
    const connection = this.#options.broker.connection;
    if (connection !== undefined) this.#onConnected(connection);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#options.broker.off('connected', this.#onConnected);
    const channel = this.#channel;
    this.#channel = undefined;
    // A broker that stopped answering never confirms the close; the connection's close follows.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      channel?.close().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 1000);
      }),
    ]);
    clearTimeout(timer);
  }

  async #subscribe(connection: ChannelModel): Promise<void> {
    const exchange = telemetryExchange(this.#options.prefix);
    try {
      const channel = await connection.createChannel();
      channel.on('error', (err: Error) => {
        this.#logger.warn('telemetry channel error', { error: err });
      });
      await channel.assertExchange(exchange, 'fanout', { durable: false });
      await channel.assertQueue(this.#queue, {
        exclusive: true,
        autoDelete: true,
        durable: false,
        arguments: { 'x-max-length': 10_000, 'x-message-ttl': 60_000 },
      });
      await channel.bindQueue(this.#queue, exchange, '');
      await channel.consume(
        this.#queue,
        (message) => {
          if (message === null) return;
          const snapshot = parseTelemetrySnapshot(message.content);
          if (snapshot === undefined) {
            this.#logger.debug('ignored a message that is not a telemetry snapshot');
            return;
          }
          this.#received += 1;
          this.#options.aggregator.ingest(snapshot, this.#now());
        },
        { noAck: true },
      );
      if (this.#closed) {
        await channel.close().catch(() => undefined);
        return;
      }
      this.#channel = channel;
      this.#logger.info('listening to telemetry', { exchange, queue: this.#queue });
    } catch (err) {
      this.#logger.warn('could not listen to telemetry', { exchange, error: err });
    }
  }
}
