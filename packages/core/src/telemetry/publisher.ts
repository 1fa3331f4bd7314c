import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Channel, ChannelModel } from 'amqplib';
import type { Registry } from 'prom-client';
import type { Broker } from '../amqp/broker.js';
import { silentLogger, type Logger } from '../logger.js';
import { readTelemetryMetrics } from './from-registry.js';
import { telemetryExchange, type TelemetryRole, type TelemetrySnapshot } from './snapshot.js';

export interface TelemetryPublisherOptions {
  /** The service's broker; the publisher opens a channel of its own on its connection. */
  readonly broker: Broker;
  readonly prefix: string;
  readonly role: TelemetryRole;
  /** The service's Prometheus registry, which the snapshots are read from. */
  readonly registry: Registry;
  /** TELEMETRY_INTERVAL_MS; 0 publishes nothing. */
  readonly intervalMs: number;
  readonly details?: Readonly<Record<string, string | number>>;
  readonly logger?: Logger;
}

/** How long close() waits for the last snapshot and the channel's close before it gives up. */
const CLOSE_TIMEOUT_MS = 1000;

/**
 * Publishes a snapshot of a service's metrics to `<prefix>.telemetry` every interval, for
 * `s3relay console`, which learns this way about every ingress and worker without being told
 * their addresses. It costs the service one small message per interval and nothing per task:
 * the snapshot is read from the Prometheus metrics the service keeps anyway.
 *
 * Telemetry never gets in the service's way: snapshots are transient and unconfirmed, a snapshot
 * that cannot be sent (no connection, a closed channel, a full socket buffer) is dropped, and
 * failures are logged at debug level only.
 */
export class TelemetryPublisher {
  /** This process's identity in the snapshots, new at every start. */
  readonly id: string;
  readonly #options: TelemetryPublisherOptions;
  readonly #logger: Logger;
  readonly #exchange: string;
  readonly #startedAt = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #channel: Channel | undefined;
  #channelConnection: ChannelModel | undefined;
  #sending: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  readonly #onConnected = () => {
    void this.#send(false);
  };

  constructor(options: TelemetryPublisherOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#exchange = telemetryExchange(options.prefix);
    this.id = `${options.role}:${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  }

  /** Publishes at once when connected, then every interval; nothing when the interval is 0. */
  start(): void {
    if (this.#options.intervalMs === 0 || this.#timer !== undefined || this.#closing) return;
    this.#timer = setInterval(() => void this.#send(false), this.#options.intervalMs);
    this.#timer.unref();
    this.#options.broker.on('connected', this.#onConnected);
    if (this.#options.broker.connection !== undefined) this.#onConnected();
  }

  /** Publishes a last snapshot marked `stopping` (when connected) and closes the channel. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#options.broker.off('connected', this.#onConnected);
    // Bounded as a whole: towards a broker that stopped answering, opening or closing a channel
    // waits for it, and that must not hold up the service's shutdown (the connection's own close
    // cleans up after it).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      (async () => {
        await this.#sending;
        await this.#send(true);
        const channel = this.#channel;
        this.#channel = undefined;
        await channel?.close().catch(() => undefined);
      })(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
  }

  /** One snapshot; skipped while the previous one is still being read or sent. */
  #send(stopping: boolean): Promise<void> {
    if (this.#sending !== undefined) return this.#sending;
    this.#sending = this.#publish(stopping).finally(() => {
      this.#sending = undefined;
    });
    return this.#sending;
  }

  async #publish(stopping: boolean): Promise<void> {
    const connection = this.#options.broker.connection;
    if (connection === undefined) return;
    try {
      const channel = await this.#channelOn(connection);
      const snapshot: TelemetrySnapshot = {
        v: 1,
        id: this.id,
        role: this.#options.role,
        host: hostname(),
        pid: process.pid,
        startedAt: this.#startedAt,
        sentAt: Date.now(),
        intervalMs: this.#options.intervalMs,
        stopping,
        details: this.#options.details ?? {},
        metrics: await readTelemetryMetrics(this.#options.registry),
      };
      channel.publish(this.#exchange, this.#options.role, Buffer.from(JSON.stringify(snapshot)), {
        contentType: 'application/json',
        type: 's3relay.telemetry.v1',
        persistent: false,
        // A snapshot older than a few intervals says nothing a newer one does not.
        expiration: String(this.#options.intervalMs * 3),
      });
    } catch (err) {
      this.#logger.debug('telemetry snapshot not published', { error: err });
      this.#channel = undefined;
    }
  }

  async #channelOn(connection: ChannelModel): Promise<Channel> {
    if (this.#channel !== undefined && this.#channelConnection === connection) return this.#channel;
    const channel = await connection.createChannel();
    channel.on('error', (err: Error) => {
      this.#logger.debug('telemetry channel error', { error: err });
    });
    channel.on('close', () => {
      if (this.#channel === channel) this.#channel = undefined;
    });
    // Declared by every publisher and by the console, idempotently; not durable, since a
    // snapshot is worthless after a broker restart and every publisher declares it again.
    await channel.assertExchange(this.#exchange, 'fanout', { durable: false });
    this.#channel = channel;
    this.#channelConnection = connection;
    return channel;
  }
}
