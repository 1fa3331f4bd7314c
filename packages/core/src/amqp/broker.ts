import { EventEmitter } from 'node:events';
import amqp, { type ChannelModel } from 'amqplib';
import { RelayError, TransientError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { redactUrl } from '../redact-url.js';
import { classifyConnectError } from './connect-error.js';
import { connectionOrder, nodeLabel, redactUrls } from './endpoints.js';
import {
  declareTopology,
  topologyNames,
  type KeptGroupSize,
  type TopologyNames,
  type TopologyOptions,
} from './topology.js';

export interface BrokerOptions {
  /**
   * The URL of every node this process may connect to (one for a single broker), as parsed from
   * `AMQP_URL` by `parseBrokerUrls`. Tried in an order of this process's own (see
   * {@link BrokerOptions.random}); on a failure or a lost connection, the next one.
   */
  readonly urls: readonly string[];
  readonly heartbeatSeconds: number;
  readonly topology: TopologyOptions;
  /**
   * Declares the topology on every connect. Operator commands pass false: they inspect what
   * exists, and must not create queues under a mistyped `AMQP_PREFIX`. @default true
   */
  readonly declare?: boolean;
  /** Shown in the RabbitMQ management UI and `rabbitmqctl list_connections`. */
  readonly connectionName: string;
  readonly logger?: Logger;
  /**
   * First delay after a failed connect attempt; doubles with each further failure up to
   * {@link maxReconnectDelayMs}. A connection that stayed up at least this long is followed by
   * an immediate reconnect, a shorter one by this delay.
   * @default 250
   */
  readonly reconnectDelayMs?: number;
  /** @default 5000 */
  readonly maxReconnectDelayMs?: number;
  /** TCP connect and handshake time limit, per node. @default 5000 */
  readonly connectTimeoutMs?: number;
  /** Shuffles the node order of this process. @default Math.random */
  readonly random?: () => number;
}

/** `idle` → `connecting` ⇄ `connected` → `closing` → `closed`. */
export type BrokerState = 'idle' | 'connecting' | 'connected' | 'closing' | 'closed';

export interface BrokerEvents {
  /** A connection to `node` (`host:port`) is open and the topology is declared. */
  connected: [connection: ChannelModel, node: string];
  /** The connection is gone; a reconnect is scheduled unless closing. */
  disconnected: [error: Error | undefined];
  /** The broker stopped reading from us (memory or disk alarm). */
  blocked: [reason: string];
  unblocked: [];
  /** One node of a connect attempt failed; the attempt goes on with the next node, if any. */
  'node-failed': [node: string, error: Error];
  /**
   * A connect attempt failed on every node; `permanent` when retrying the same way cannot help
   * (some node refused the credentials or the topology). `error` is the last node's.
   */
  'connect-failed': [error: Error, permanent: boolean];
}

/**
 * One AMQP connection that reconnects by itself and declares the topology on every connect. A
 * connection that was up is replaced at once (every moment without one is a moment of 503s);
 * only failing attempts back off, exponentially and capped. A connection dropped sooner than the
 * first backoff step waits that step, so that a broker that drops every connection at once is
 * not the target of a connect loop. It never buffers anything: users ask for the current connection and
 * fail fast when there is none.
 *
 * With several node URLs (a cluster), a connect attempt tries them in this process's order until
 * one answers, starting with the node it was last connected to; a lost connection starts the next
 * attempt at the node after the lost one, since a dropped node is the likeliest reason.
 */
export class Broker extends EventEmitter<BrokerEvents> {
  readonly names: TopologyNames;
  #state: BrokerState = 'idle';
  #connection: ChannelModel | undefined;
  /** The URL of the connected node. */
  #url: string | undefined;
  /** This process's order of the node URLs, and where the next attempt starts in it. */
  readonly #order: readonly string[];
  #cursor = 0;
  #blocked = false;
  readonly #reportedKept = new Set<string>();
  /** Failed connect attempts since the last connection. */
  #attempt = 0;
  /**
   * The failures logged at warn or error since the last connection; the same one again is
   * logged at debug only (a node that resets connections fails in two or three ways in turn).
   */
  readonly #reportedFailures = new Set<string>();
  /** When the current connection was opened (performance.now()). */
  #connectedAt = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #closePromise: Promise<void> | undefined;
  readonly #options: Required<Omit<BrokerOptions, 'logger' | 'random'>>;
  readonly #logger: Logger;

  constructor(options: BrokerOptions) {
    super();
    if (options.urls.length === 0) throw new Error('Broker needs at least one node URL');
    this.#options = {
      reconnectDelayMs: 250,
      maxReconnectDelayMs: 5000,
      connectTimeoutMs: 5000,
      declare: true,
      ...options,
    };
    this.#logger = options.logger ?? silentLogger;
    this.names = topologyNames(options.topology);
    this.#order = connectionOrder(options.urls, options.random);
  }

  get state(): BrokerState {
    return this.#state;
  }

  /** The open connection, or undefined while disconnected. */
  get connection(): ChannelModel | undefined {
    return this.#state === 'connected' ? this.#connection : undefined;
  }

  /** `host:port` of the node connected to now, or undefined while disconnected. */
  get node(): string | undefined {
    return this.#state === 'connected' && this.#url !== undefined
      ? nodeLabel(this.#url)
      : undefined;
  }

  /** `host:port` of every node, in the order given. */
  get nodes(): readonly string[] {
    return this.#options.urls.map(nodeLabel);
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
            `RabbitMQ did not answer within ${timeoutMs} ms at ${redactUrls(this.#options.urls)}`,
          ),
        );
      }, timeoutMs);
      this.on('connected', onConnected);
      this.on('connect-failed', onFailed);
    });
  }

  /**
   * Resolves once connected, or once a connect attempt failed in a way that may pass (the broker
   * is down or unreachable: the broker goes on retrying); rejects with the error of an attempt
   * that failed permanently (refused credentials, vhost or permissions, a topology mismatch).
   * The startup check of a service that serves before the broker is up.
   */
  async firstAttempt(): Promise<void> {
    if (this.connection !== undefined) return;
    this.start();
    await new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        this.off('connected', onConnected);
        this.off('connect-failed', onFailed);
      };
      const onConnected = () => {
        cleanup();
        resolve();
      };
      const onFailed = (error: Error, permanent: boolean) => {
        cleanup();
        if (permanent) reject(error);
        else resolve();
      };
      this.on('connected', onConnected);
      this.on('connect-failed', onFailed);
    });
  }

  /**
   * Declares the topology again on the open connection, as on every connect: for a consumer
   * whose queue was deleted under it. Does nothing for a broker that does not declare (operator
   * commands). Thrown as {@link TransientError} `RELAY_AMQP_UNAVAILABLE` while disconnected, and
   * as {@link declareTopology} throws otherwise (`RELAY_AMQP_TOPOLOGY_MISMATCH`).
   */
  async declare(): Promise<void> {
    const connection = this.connection;
    if (connection === undefined) {
      throw new TransientError('RELAY_AMQP_UNAVAILABLE', 'not connected to RabbitMQ');
    }
    if (!this.#options.declare) return;
    await declareTopology(connection, this.#options.topology, (kept) => this.#reportKept(kept));
  }

  #connectSoon(delayMs: number): void {
    this.#state = 'connecting';
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#connect();
    }, delayMs);
  }

  /** One attempt: every node in turn from the cursor until one connects and declares. */
  async #connect(): Promise<void> {
    let lastError: Error | undefined;
    let permanent = false;
    const failed: string[] = [];
    for (let tried = 0; tried < this.#order.length; tried += 1) {
      const index = (this.#cursor + tried) % this.#order.length;
      const url = this.#order[index] as string;
      let connection: ChannelModel;
      try {
        connection = await this.#open(url);
      } catch (err) {
        lastError = classifyConnectError(err, url);
        permanent ||= isPermanent(lastError);
        failed.push(redactUrl(url));
        if (this.#state !== 'connecting') return;
        this.#logger.debug('broker node failed', { url: redactUrl(url), error: lastError.message });
        this.emit('node-failed', nodeLabel(url), lastError);
        continue;
      }
      if (this.#state !== 'connecting') {
        // close() was called while the connection was being opened.
        await closeConnection(connection, this.#options.connectTimeoutMs);
        return;
      }
      this.#cursor = index;
      this.#onConnected(connection, url, failed);
      return;
    }
    this.#onConnectFailed(lastError ?? new Error('no node to connect to'), permanent);
  }

  /** Opens a connection to one node and (unless told not to) declares the topology on it. */
  async #open(url: string): Promise<ChannelModel> {
    let connection: ChannelModel | undefined;
    try {
      connection = await amqp.connect(withHeartbeat(url, this.#options.heartbeatSeconds), {
        timeout: this.#options.connectTimeoutMs,
        clientProperties: { connection_name: this.#options.connectionName },
      });
      connection.on('error', (err: Error) => {
        this.#logger.warn('broker connection error', { error: err.message });
      });
      if (this.#options.declare) {
        await declareTopology(connection, this.#options.topology, (kept) => this.#reportKept(kept));
      }
      return connection;
    } catch (err) {
      if (connection !== undefined)
        await closeConnection(connection, this.#options.connectTimeoutMs);
      throw err;
    }
  }

  /** Once per queue and process: every reconnect declares again. */
  #reportKept(kept: KeptGroupSize): void {
    if (this.#reportedKept.has(kept.queue)) return;
    this.#reportedKept.add(kept.queue);
    this.#logger.info('queue keeps its replication', {
      queue: kept.queue,
      groupSize: kept.groupSize ?? 'the broker default',
      configured: this.#options.topology.quorumGroupSize,
      hint: 'AMQP_QUORUM_GROUP_SIZE applies to queues being created; change the members of an existing queue with rabbitmq-queues grow/shrink',
    });
  }

  #onConnected(connection: ChannelModel, url: string, failed: readonly string[]): void {
    this.#connectedAt = performance.now();
    this.#attempt = 0;
    this.#reportedFailures.clear();
    this.#blocked = false;
    this.#connection = connection;
    this.#url = url;
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
    this.#logger.info('broker connected', {
      queue: this.names.tasks,
      url: redactUrl(url),
      ...(failed.length > 0 ? { unreachable: failed } : {}),
    });
    this.emit('connected', connection, nodeLabel(url));
  }

  /** The next backoff step; counts an attempt. */
  #backoffMs(): number {
    const delayMs = Math.min(
      this.#options.maxReconnectDelayMs,
      this.#options.reconnectDelayMs * 2 ** Math.min(this.#attempt, 16),
    );
    this.#attempt += 1;
    return delayMs;
  }

  #onConnectFailed(error: Error, permanent: boolean): void {
    if (this.#state !== 'connecting') return;
    const delayMs = this.#backoffMs();
    // One line per change of state (a first failure, a new error), not one per attempt: a
    // broker that stays down is visible in /readyz and the metrics, not as a flood of lines.
    const changed = !this.#reportedFailures.has(error.message);
    this.#reportedFailures.add(error.message);
    const level = !changed ? 'debug' : permanent ? 'error' : 'warn';
    const code = (error as { code?: unknown }).code;
    this.#logger[level]('broker connect failed', {
      error: error.message,
      ...(code === undefined ? {} : { code }),
      attempt: this.#attempt,
      retryInMs: delayMs,
      url: redactUrls(this.#options.urls),
      ...(changed && !permanent
        ? { note: 'retrying with backoff; logged again for another error, or once connected' }
        : {}),
    });
    this.emit('connect-failed', error, permanent);
    this.#connectSoon(delayMs);
  }

  #onClose(connection: ChannelModel, err: Error | undefined): void {
    if (this.#connection !== connection) return;
    const url = this.#url;
    this.#connection = undefined;
    this.#url = undefined;
    this.#blocked = false;
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.#cursor = (this.#cursor + 1) % this.#order.length;
    const upMs = performance.now() - this.#connectedAt;
    // A connection dropped sooner waits the first backoff step: no connect loop against a broker
    // that drops every connection at once. Only failed attempts make the wait grow.
    const retryInMs = upMs >= this.#options.reconnectDelayMs ? 0 : this.#backoffMs();
    this.#logger.warn('broker disconnected', {
      error: err?.message,
      url: url === undefined ? undefined : redactUrl(url),
      upMs: Math.round(upMs),
      retryInMs,
    });
    this.emit('disconnected', err);
    this.#connectSoon(retryInMs);
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
    this.#url = undefined;
    if (connection !== undefined) await closeConnection(connection, timeoutMs);
    this.#state = 'closed';
    if (wasConnected) this.emit('disconnected', undefined);
  }
}

/** Retrying cannot help: the credentials or the topology are refused (cluster-wide settings). */
function isPermanent(error: Error): boolean {
  return error instanceof RelayError && !error.retryable;
}

/**
 * Closes gracefully within `timeoutMs`, then drops the TCP socket: a black-holed node never
 * answers connection.close, and waiting for it would hold up a failover or a shutdown.
 */
async function closeConnection(connection: ChannelModel, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    connection.close().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
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
