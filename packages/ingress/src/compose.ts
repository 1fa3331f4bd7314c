import { createServer, type Server } from 'node:http';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Config, Logger, ProbeSource } from '@s3relay/core';
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
   * when it closes.
   */
  readonly broker?: Broker;
  /** Test seams of the SNS handling; production uses Node's fetch and the wall clock. */
  readonly fetchCertificate?: CertificateFetcher;
  readonly confirmSubscription?: SubscriptionConfirmer;
  readonly now?: () => Date;
}

/** What the parts need of the ingress's lifecycle. */
export interface IngressView {
  /** What `/healthz` and `/readyz` show. */
  readonly probe: ProbeSource;
  /** True once shutdown began: new webhooks get 503 and connections are not kept alive. */
  readonly isClosing: () => boolean;
}

/** An ingress's parts, wired from its configuration; nothing listens or connects yet. */
export interface IngressParts {
  readonly broker: Broker;
  /** Whether the ingress closes the broker (it made it). */
  readonly ownsBroker: boolean;
  readonly publisher: Publisher;
  /** The ingress's own Prometheus registry, served on its metrics port. */
  readonly registry: Registry;
  readonly telemetry: TelemetryPublisher;
  /** The webhook server around the app, not listening yet. */
  readonly server: Server;
}

/**
 * Wires an ingress from its configuration: broker, publisher, metrics, telemetry, and the
 * webhook server around the app (`app.ts`). It binds nothing and connects nothing; the ingress's
 * lifecycle (`ingress.ts`) starts and closes the parts.
 */
export function composeIngress(options: IngressOptions, view: IngressView): IngressParts {
  const { config } = options;
  const logger = options.logger.child({ component: 'ingress' });
  const broker =
    options.broker ??
    new Broker(brokerOptionsFrom(config, 'ingress', options.logger.child({ component: 'broker' })));
  const publisher = new Publisher(broker, {
    timeoutMs: config.amqp.publishTimeoutMs,
    maxInFlight: config.http.maxInFlight,
    logger,
  });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerBrokerMetrics(registry, broker);
  const refusedConnections = createRefusedConnectionsCounter(registry);
  const telemetry = new TelemetryPublisher({
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
    probe: view.probe,
    isClosing: view.isClosing,
    registry,
    ...(options.fetchCertificate === undefined
      ? {}
      : { fetchCertificate: options.fetchCertificate }),
    ...(options.confirmSubscription === undefined
      ? {}
      : { confirmSubscription: options.confirmSubscription }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  const server = createServer(
    {
      headersTimeout: config.http.headersTimeoutMs,
      requestTimeout: config.http.requestTimeoutMs,
      keepAliveTimeout: config.http.keepAliveTimeoutMs,
      connectionsCheckingInterval: CONNECTIONS_CHECK_INTERVAL_MS,
    },
    app,
  );
  // Node closes connections beyond the cap as they come, before any byte is read.
  if (config.http.maxConnections > 0) server.maxConnections = config.http.maxConnections;
  server.on('drop', () => refusedConnections.inc());
  return {
    broker,
    ownsBroker: options.broker === undefined,
    publisher,
    registry,
    telemetry,
    server,
  };
}
