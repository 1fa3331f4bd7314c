import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** How a webhook request ended, as counted and logged. */
export type RequestOutcome =
  /** Records published and confirmed (or none to publish): 200. */
  | 'accepted'
  /** An SNS MessageId published before: 200 without publishing. */
  | 'duplicate'
  /** A VK handshake signed, or an SNS subscription confirmed: 200. */
  | 'handshake'
  /** An SNS UnsubscribeConfirmation, logged only: 200. */
  | 'ignored'
  /** Refused for its content or its credentials: 4xx, nothing published. */
  | 'rejected'
  /** The broker (or the SNS certificate host) cannot take it now: 503, retry later. */
  | 'unavailable'
  /** A bug: 500. */
  | 'error';

/** The ingress's metrics, registered on the registry the app is given. */
export interface IngressMetrics {
  readonly requests: Counter<'source' | 'outcome'>;
  readonly recordsPublished: Counter<'source'>;
  readonly publishSeconds: Histogram<'result'>;
  readonly brokerConnected: Gauge;
}

/**
 * Registers the ingress's metrics on `registry`:
 * - `s3relay_ingress_requests_total{source,outcome}`: webhook requests (source `unknown` until
 *   the body says which),
 * - `s3relay_ingress_records_published_total{source}`: records confirmed by the broker,
 * - `s3relay_ingress_publish_seconds{result}`: publish-to-confirm time of one request's records,
 * - `s3relay_ingress_broker_connected`: 1 while publishing is possible.
 */
export function createIngressMetrics(
  registry: Registry,
  isBrokerConnected: () => boolean,
): IngressMetrics {
  return {
    requests: new Counter({
      name: 's3relay_ingress_requests_total',
      help: 'Webhook requests by source and outcome',
      labelNames: ['source', 'outcome'] as const,
      registers: [registry],
    }),
    recordsPublished: new Counter({
      name: 's3relay_ingress_records_published_total',
      help: 'Records published and confirmed by the broker',
      labelNames: ['source'] as const,
      registers: [registry],
    }),
    publishSeconds: new Histogram({
      name: 's3relay_ingress_publish_seconds',
      help: "Time from publishing a request's records to the broker's last confirm",
      labelNames: ['result'] as const,
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    brokerConnected: new Gauge({
      name: 's3relay_ingress_broker_connected',
      help: '1 while the broker connection is up and accepts publishes, else 0',
      registers: [registry],
      collect() {
        this.set(isBrokerConnected() ? 1 : 0);
      },
    }),
  };
}

/**
 * Registers `s3relay_ingress_connections_refused_total`: connections to the webhook port closed
 * unanswered because HTTP_MAX_CONNECTIONS were open.
 */
export function createRefusedConnectionsCounter(registry: Registry): Counter {
  return new Counter({
    name: 's3relay_ingress_connections_refused_total',
    help: 'Connections to the webhook port closed unanswered at HTTP_MAX_CONNECTIONS',
    registers: [registry],
  });
}
