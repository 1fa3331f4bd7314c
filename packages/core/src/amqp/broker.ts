import { EventEmitter } from 'node:events';
import amqp, { type ChannelModel } from 'amqplib';
import { RelayError, TransientError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { redactUrl } from '../redact-url.js';
import {
  declareTopology,
  topologyNames,
  type TopologyNames,
  type TopologyOptions,
} from './topology.js';

export interface BrokerOptions {
  readonly url: string;
  readonly heartbeatSeconds: number;
  readonly topology: TopologyOptions;
  /** Shown in the RabbitMQ management UI and `rabbitmqctl list_connections`. */
  readonly connectionName: string;
  readonly logger?: Logger;
  /** First reconnect delay; doubles up to {@link maxReconnectDelayMs}. @default 250 */
  readonly reconnectDelayMs?: number;
  /** @default 5000 */
  readonly maxReconnectDelayMs?: number;
  /** TCP connect and handshake time limit. @default 5000 */
  readonly connectTimeoutMs?: number;
}

/** `idle` → `connecting` ⇄ `connected` → `closing` → `closed`. */
export type BrokerState = 'idle' | 'connecting' | 'connected' | 'closing' | 'closed';

export interface BrokerEvents {
  /** A connection is open and the topology is declared. */
  connected: [connection: ChannelModel];
  /** The connection is gone; a reconnect is scheduled unless closing. */
  disconnected: [error: Error | undefined];
  /** The broker stopped reading from us (memory or disk alarm). */
  blocked: [reason: string];
  unblocked: [];
  /** A connect attempt failed; `permanent` when retrying the same way cannot help. */
  'connect-failed': [error: Error, permanent: boolean];
}

/**
 * One AMQP connection that reconnects by itself with capped exponential backoff and declares the
 * topology on every connect. It never buffers anything: users ask for the current connection and
 * fail fast when there is none.
 */
export class Broker extends EventEmitter<BrokerEvents> {
  readonly names: TopologyNames;
  #state: BrokerState = 'idle';
  #connection: ChannelModel | undefined;
  #blocked = false;
  #attempt = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #closePromise: Promise<void> | undefined;
  readonly #options: Required<Omit<BrokerOptions, 'logger'>>;
  readonly #logger: Logger;

  constructor(options: BrokerOptions) {
    super();
    this.#options = {
      reconnectDelayMs: 250,
      maxReconnectDelayMs: 5000,
      connectTimeoutMs: 5000,
      ...options,
    };
    this.#logger = options.logger ?? silentLogger;
    this.names = topologyNames(options.topology);
  }

  get state(): BrokerState {
    return this.#state;
  }

  /** The open connection, or undefined while disconnected. */
  get connection(): ChannelModel | undefined {
    return this.#state === 'connected' ? this.#connection : undefined;
  }

  /** True while the broker has told us it stopped accepting publishes (resource alarm). */
  get isBlocked(): boolean {
    return this.#blocked;
  }

  /** Starts connecting in the background; idempotent. */
  start(): void {
    if (this.#state !== 'idle') return;
    this.#connectSoon(0);
  }

  /**
   * Resolves once connected. Rejects after `timeoutMs`, or at once with the error when a connect
   * attempt failed permanently (a topology mismatch, bad credentials) — or failed at all, with
   * `failFast`, for one-shot commands that should not wait out a refused connection.
   */
  async waitConnected(
    timeoutMs: number,
    options: { readonly failFast?: boolean } = {},
  ): Promise<ChannelModel> {
    const current = this.connection;
    if (current !== undefined) return current;
    this.start();
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        this.off('connected', onConnected);
        this.off('connect-failed', onFailed);
      };
      const onConnected = (connection: ChannelModel) => {
        cleanup();
        resolve(connection);
      };
      const onFailed = (error: Error, permanent: boolean) => {
        if (!permanent && options.failFast !== true) return;
        cleanup();
        reject(error);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new TransientError(
            'RELAY_AMQP_UNAVAILABLE',
            `RabbitMQ did not answer within ${timeoutMs} ms at ${redactUrl(this.#options.url)}`,
          ),
        );
      }, timeoutMs);
      this.on('connected', onConnected);
      this.on('connect-failed', onFailed);
    });
  }

  #connectSoon(delayMs: number): void {
    this.#state = 'connecting';
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#connect();
    }, delayMs);
  }

  async #connect(): Promise<void> {
    let connection: ChannelModel | undefined;
    try {
      connection = await amqp.connect(
        withHeartbeat(this.#options.url, this.#options.heartbeatSeconds),
        {
          timeout: this.#options.connectTimeoutMs,
          clientProperties: { connection_name: this.#options.connectionName },
        },
      );
      connection.on('error', (err: Error) => {
        this.#logger.warn('broker connection error', { error: err });
      });
      const setup = await connection.createChannel();
      setup.on('error', () => undefined);
      await declareTopology(setup, this.#options.topology);
      await setup.close();
    } catch (err) {
      await connection?.close().catch(() => undefined);
      this.#onConnectFailed(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (this.#state !== 'connecting') {
      // close() was called while the connection was being opened.
      await connection.close().catch(() => undefined);
      return;
    }
    this.#attempt = 0;
    this.#blocked = false;
    this.#connection = connection;
    this.#state = 'connected';
    connection.on('blocked', (reason: string) => {
      this.#blocked = true;
      this.#logger.warn('broker blocked publishing', { reason });
      this.emit('blocked', reason);
    });
    connection.on('unblocked', () => {
      this.#blocked = false;
      this.#logger.info('broker unblocked publishing');
      this.emit('unblocked');
    });
    connection.on('close', (err?: Error) => this.#onClose(connection, err));
    this.#logger.info('broker connected', { queue: this.names.tasks });
    this.emit('connected', connection);
  }

  #onConnectFailed(error: Error): void {
    if (this.#state !== 'connecting') return;
    const permanent =
      (error instanceof RelayError && !error.retryable) || /ACCESS_REFUSED|403/.test(error.message);
    const delayMs = Math.min(
      this.#options.maxReconnectDelayMs,
      this.#options.reconnectDelayMs * 2 ** Math.min(this.#attempt, 16),
    );
    this.#attempt += 1;
    const level = permanent || this.#attempt % 10 === 1 ? 'error' : 'debug';
    this.#logger[level]('broker connect failed', {
      error,
      attempt: this.#attempt,
      retryInMs: delayMs,
      url: redactUrl(this.#options.url),
    });
    this.emit('connect-failed', error, permanent);
    this.#connectSoon(delayMs);
  }

  #onClose(connection: ChannelModel, err: Error | undefined): void {
    if (this.#connection !== connection) return;
    this.#connection = undefined;
    this.#blocked = false;
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.#logger.warn('broker disconnected', { error: err });
    this.emit('disconnected', err);
    this.#connectSoon(this.#options.reconnectDelayMs);
  }

  /** Stops reconnecting and closes the connection; idempotent. */
  close(timeoutMs = 5000): Promise<void> {
    this.#closePromise ??= this.#close(timeoutMs);
    return this.#closePromise;
  }

  async #close(timeoutMs: number): Promise<void> {
    const wasConnected = this.#state === 'connected';
    this.#state = 'closing';
    clearTimeout(this.#retryTimer);
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection !== undefined) {
      // A black-holed broker never answers connection.close; do not wait for it forever.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        connection.close().catch(() => undefined),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      destroySocket(connection);
    }
    this.#state = 'closed';
    if (wasConnected) this.emit('disconnected', undefined);
  }
}

/** Drops the TCP socket under a connection whose graceful close did not finish. */
function destroySocket(connection: ChannelModel): void {
  (connection.connection as { stream?: { destroy?: () => void } }).stream?.destroy?.();
}

/** Adds `heartbeat` to the URL's query unless the operator already set it there. */
function withHeartbeat(url: string, heartbeatSeconds: number): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('heartbeat')) {
    parsed.searchParams.set('heartbeat', String(heartbeatSeconds));
  }
  return parsed.toString();
}
