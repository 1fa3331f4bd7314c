import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry, collectDefaultMetrics } from 'prom-client';
import {
  listenError,
  startMetricsServer,
  type Config,
  type Logger,
  type MetricsServer,
} from '@s3relay/core';
import { Broker, Publisher, brokerOptionsFrom, registerBrokerMetrics } from '@s3relay/core/amqp';
import { TelemetryPublisher } from '@s3relay/core/telemetry';
import { createApp } from './app.js';
import { createRefusedConnectionsCounter } from './metrics.js';
import type { SubscriptionConfirmer } from './sns-fetchers.js';
import type { CertificateFetcher } from './sns-signature.js';

/**
 * How often Node looks for requests past HTTP_HEADERS_TIMEOUT_MS or HTTP_REQUEST_TIMEOUT_MS. Its
 * default (30 s) let a slow client hold a connection up to 30 s past the timeout; a walk over the
 * open connections once a second costs nothing next to that.
 */
export const CONNECTIONS_CHECK_INTERVAL_MS = 1000;

export interface IngressOptions {
  readonly config: Config;
  readonly logger: Logger;
  /**
   * A broker to publish through (the `all` command shares one). When given, the caller closes it
   * (`start()` only makes sure it is started); otherwise the ingress creates its own and closes it
   * in {@link Ingress.close}.
   */
  readonly broker?: Broker;
  /** Test seams of the SNS handling; production uses Node's fetch and the wall clock. */
  readonly fetchCertificate?: CertificateFetcher;
  readonly confirmSubscription?: SubscriptionConfirmer;
  readonly now?: () => Date;
}

/** `idle` → `starting` → `running` → `closing` → `closed`. */
export type IngressState = 'idle' | 'starting' | 'running' | 'closing' | 'closed';

/** The ingress service: the HTTP server, its publisher and (unless given) its broker. */
export interface Ingress {
  /**
   * Makes a first attempt to connect to the broker, then listens on `config.http.host:port`
   * (port 0 picks a free one). A broker that is down or unreachable is not waited for: the
   * attempts go on in the background, webhooks get 503 until it is up, handshakes work at once.
   * Rejects when the broker refuses the credentials or the topology (`RELAY_AMQP_ACCESS_REFUSED`,
   * `RELAY_AMQP_TOPOLOGY_MISMATCH`) and, as a `RELAY_CONFIG_INVALID` naming the variable, when
   * an address cannot be bound.
   */
  start(): Promise<void>;
  /** The bound port once listening. */
  readonly port: number | undefined;
  /** The bound port of `/metrics`, `/healthz` and `/readyz` (HTTP_METRICS_PORT) once started. */
  readonly metricsPort: number | undefined;
  /** `http://host:port` once listening. */
  readonly url: string | undefined;
  /** Running, broker connected with its topology declared, and not blocked. */
  readonly isReady: boolean;
  readonly state: IngressState;
  /**
   * Graceful, idempotent shutdown: readiness and new webhooks answer 503 at once, the server
   * stops accepting, in-flight requests finish (until SHUTDOWN_TIMEOUT_MS, then their sockets are
   * closed), outstanding confirms settle, then the publisher channel and (if owned) the broker
   * connection close.
   */
  close(): Promise<void>;
}

/** Creates the ingress service; nothing happens until {@link Ingress.start}. */
export function createIngress(options: IngressOptions): Ingress {
  const { config } = options;
  const logger = options.logger.child({ component: 'ingress' });
  const ownsBroker = options.broker === undefined;
  const broker =
    options.broker ??
    new Broker(brokerOptionsFrom(config, 'ingress', options.logger.child({ component: 'broker' })));
  const publisher = new Publisher(broker, {
    timeoutMs: config.amqp.publishTimeoutMs,
    maxInFlight: config.http.maxInFlight,
    logger,
  });
  let state: IngressState = 'idle';
  let server: Server | undefined;
  let telemetry: TelemetryPublisher | undefined;
  let address: AddressInfo | undefined;
  let metricsServer: MetricsServer | undefined;
  let closePromise: Promise<void> | undefined;

  // Read through a function: TypeScript would otherwise keep `state` narrowed across awaits.
  const currentState = (): IngressState => state;
  const isReady = (): boolean => state === 'running' && publisher.isReady;
  const transition = (next: IngressState): void => {
    state = next;
    logger.info('ingress state', { state });
  };

  async function start(): Promise<void> {
    if (state !== 'idle') throw new Error(`the ingress cannot start when ${state}`);
    transition('starting');
    const { webhookToken, allowedIps } = config.http;
    if (
      webhookToken === undefined &&
      allowedIps.length === 0 &&
      config.source.buckets.length === 0
    ) {
      logger.warn(
        'the ingress accepts webhooks from anyone: set WEBHOOK_TOKEN, ALLOWED_IPS or SOURCE_BUCKETS before exposing it (README, "Exposing the ingress")',
      );
    }
    try {
      // Refused credentials fail the start; a broker that is down is waited for in the
      // background (webhooks get 503 meanwhile, handshakes work at once).
      await broker.firstAttempt();
    } catch (err) {
      transition('closed');
      if (ownsBroker) await broker.close();
      throw err;
    }
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    registerBrokerMetrics(registry, broker);
    const refusedConnections = createRefusedConnectionsCounter(registry);
    try {
      metricsServer = await startMetricsServer({
        host: config.http.metricsHost,
        port: config.http.metricsPort,
        registry,
        isReady,
        logger,
        variables: { host: 'METRICS_HOST', port: 'HTTP_METRICS_PORT' },
      });
    } catch (err) {
      transition('closed');
      if (ownsBroker) await broker.close();
      throw err;
    }
    telemetry = new TelemetryPublisher({
      broker,
      prefix: config.amqp.prefix,
      role: 'ingress',
      registry,
      intervalMs: config.telemetryIntervalMs,
      logger,
    });
    const app = createApp({
      config,
      logger,
      publisher,
      isReady,
      isClosing: () => state === 'closing' || state === 'closed',
      registry,
      ...(options.fetchCertificate === undefined
        ? {}
        : { fetchCertificate: options.fetchCertificate }),
      ...(options.confirmSubscription === undefined
        ? {}
        : { confirmSubscription: options.confirmSubscription }),
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    const listening = createServer(
      {
        headersTimeout: config.http.headersTimeoutMs,
        requestTimeout: config.http.requestTimeoutMs,
        keepAliveTimeout: config.http.keepAliveTimeoutMs,
        connectionsCheckingInterval: CONNECTIONS_CHECK_INTERVAL_MS,
      },
      app,
    );
    // Node closes connections beyond the cap as they come, before any byte is read.
    if (config.http.maxConnections > 0) listening.maxConnections = config.http.maxConnections;
    listening.on('drop', () => refusedConnections.inc());
    listening.listen(config.http.port, config.http.host);
    try {
      await once(listening, 'listening');
    } catch (err) {
      transition('closed');
      await metricsServer.close();
      if (ownsBroker) await broker.close();
      throw listenError(err, {
        host: config.http.host,
        port: config.http.port,
        hostVariable: 'HTTP_HOST',
        portVariable: 'HTTP_PORT',
      });
    }
    listening.on('error', (err) => {
      logger.error('http server error', { error: err });
    });
    if (currentState() !== 'starting') {
      // close() was called while binding: it found no server to close.
      listening.close();
      return;
    }
    server = listening;
    address = listening.address() as AddressInfo;
    transition('running');
    telemetry.start();
    logger.info('ingress listening', {
      host: address.address,
      port: address.port,
      metricsPort: metricsServer.port,
    });
  }

  async function close(): Promise<void> {
    const wasRunning = state !== 'idle';
    transition('closing');
    if (server !== undefined) {
      const current = server;
      const closed = new Promise<void>((resolve) => current.close(() => resolve()));
      current.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        closed.then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), config.shutdownTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (!drained) {
        logger.warn('in-flight requests outlived the shutdown timeout; closing their sockets', {
          timeoutMs: config.shutdownTimeoutMs,
        });
        current.closeAllConnections();
        await closed;
      }
    }
    await telemetry?.close();
    await publisher.close().catch((err: unknown) => {
      logger.warn('publisher close failed', { error: err });
    });
    if (ownsBroker && wasRunning) {
      await broker.close().catch((err: unknown) => {
        logger.warn('broker close failed', { error: err });
      });
    }
    // Last: probes see the shutdown (not ready) until the end.
    await metricsServer?.close();
    transition('closed');
  }

  return {
    start,
    get port() {
      return address?.port;
    },
    get metricsPort() {
      return metricsServer?.port;
    },
    get url() {
      if (address === undefined) return undefined;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `http://${host}:${address.port}`;
    },
    get isReady() {
      return isReady();
    },
    get state() {
      return state;
    },
    close() {
      closePromise ??= close();
      return closePromise;
    },
  };
}
