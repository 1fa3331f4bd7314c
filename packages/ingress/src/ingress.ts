import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import {
  Lifecycle,
  isReadyProbe,
  listenError,
  startMetricsServer,
  type Config,
  type Logger,
  type MetricsServer,
  type Service,
  type ServiceState,
  type StartContext,
} from '@s3relay/core';
import { composeIngress, type IngressOptions, type IngressParts } from './compose.js';

export { CONNECTIONS_CHECK_INTERVAL_MS, type IngressOptions } from './compose.js';

/** The ingress service: the HTTP server, its publisher and (unless given) its broker. */
export interface Ingress extends Service {
  /**
   * Starts the metrics server, makes a first attempt to connect to the broker, then listens on
   * `config.http.host:port` (port 0 picks a free one). A broker that is down or unreachable is
   * not waited for: the attempts go on in the background, webhooks get 503 until it is up,
   * handshakes work at once. Rejects when the broker refuses the credentials or the topology
   * (`RELAY_AMQP_ACCESS_REFUSED`, `RELAY_AMQP_TOPOLOGY_MISMATCH`) and, as a
   * `RELAY_CONFIG_INVALID` naming the variable, when an address cannot be bound; then
   * everything started is closed again and the state is `failed`.
   */
  start(): Promise<void>;
  /**
   * Graceful, idempotent shutdown: readiness and new webhooks answer 503 at once, the server
   * stops accepting, in-flight requests finish (until SHUTDOWN_TIMEOUT_MS, then their sockets are
   * closed), outstanding confirms settle, then the publisher channel and (if owned) the broker
   * connection close.
   */
  close(): Promise<void>;
  /** `broker` connected with its topology declared, and `publishing`: not blocked. */
  readonly checks: { readonly broker: boolean; readonly publishing: boolean };
  /** The bound port once listening. */
  readonly port: number | undefined;
  /** `http://host:port` once listening. */
  readonly url: string | undefined;
}

/** The states in which new webhooks get 503 and connections are not kept alive. */
const CLOSING_STATES: readonly ServiceState[] = ['closing', 'closed', 'failed'];

/** Creates the ingress service (its parts wired by `compose.ts`); nothing happens until start. */
export function createIngress(options: IngressOptions): Ingress {
  return new RelayIngress(options);
}

/** The ingress's lifecycle: start, drain and close the parts `composeIngress` wired. */
class RelayIngress implements Ingress {
  readonly #config: Config;
  readonly #logger: Logger;
  readonly #parts: IngressParts;
  readonly #lifecycle: Lifecycle;
  #address: AddressInfo | undefined;
  #metricsServer: MetricsServer | undefined;

  constructor(options: IngressOptions) {
    this.#config = options.config;
    this.#logger = options.logger.child({ component: 'ingress' });
    this.#lifecycle = new Lifecycle({
      name: 'ingress',
      logger: this.#logger,
      start: (context) => this.#start(context),
    });
    this.#parts = composeIngress(options, {
      probe: this,
      isClosing: () => CLOSING_STATES.includes(this.state),
    });
  }

  get state(): ServiceState {
    return this.#lifecycle.state;
  }

  get error(): unknown {
    return this.#lifecycle.error;
  }

  get checks(): Ingress['checks'] {
    const { broker, publisher } = this.#parts;
    return { broker: broker.connection !== undefined, publishing: publisher.isReady };
  }

  get isReady(): boolean {
    return isReadyProbe(this);
  }

  get port(): number | undefined {
    return this.#address?.port;
  }

  get metricsPort(): number | undefined {
    return this.#metricsServer?.port;
  }

  get url(): string | undefined {
    const address = this.#address;
    if (address === undefined) return undefined;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  start(): Promise<void> {
    return this.#lifecycle.start();
  }

  close(): Promise<void> {
    return this.#lifecycle.close();
  }

  /** Each step registers its undo as soon as it started: they run in reverse on close. */
  async #start({ onClose, until }: StartContext): Promise<void> {
    const { http } = this.#config;
    const { broker, ownsBroker, publisher, registry, telemetry, server } = this.#parts;
    if (
      http.webhookToken === undefined &&
      http.allowedIps.length === 0 &&
      this.#config.source.buckets.length === 0
    ) {
      this.#logger.warn(
        'the ingress accepts webhooks from anyone: set WEBHOOK_TOKEN, ALLOWED_IPS or SOURCE_BUCKETS before exposing it (README, "Exposing the ingress")',
      );
    }
    const metricsServer = await startMetricsServer({
      host: http.metricsHost,
      port: http.metricsPort,
      registry,
      probe: this,
      logger: this.#logger,
      variables: { host: 'METRICS_HOST', port: 'HTTP_METRICS_PORT' },
    });
    this.#metricsServer = metricsServer;
    // Last: probes see the shutdown until the end.
    onClose('close the metrics server', () => metricsServer.close());
    if (ownsBroker) onClose('close the broker connection', () => broker.close());
    // Refused credentials fail the start; a broker that is down is waited for in the
    // background (webhooks get 503 meanwhile, handshakes work at once).
    await until(broker.firstAttempt());
    onClose('close the publisher', () => publisher.close());
    telemetry.start();
    onClose('say goodbye to the console', () => telemetry.close());
    server.listen(http.port, http.host);
    try {
      await once(server, 'listening');
    } catch (err) {
      throw listenError(err, {
        host: http.host,
        port: http.port,
        hostVariable: 'HTTP_HOST',
        portVariable: 'HTTP_PORT',
      });
    }
    server.on('error', (err) => {
      this.#logger.error('http server error', { error: err });
    });
    // First on close: no request is cut short by what closes after it.
    onClose('finish in-flight requests', () => this.#drain());
    this.#address = server.address() as AddressInfo;
    this.#logger.info('ingress listening', {
      host: this.#address.address,
      port: this.#address.port,
      metricsPort: metricsServer.port,
    });
  }

  /**
   * Stops accepting, lets the requests in flight finish within SHUTDOWN_TIMEOUT_MS, then closes
   * their sockets.
   */
  async #drain(): Promise<void> {
    const { server } = this.#parts;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      closed.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), this.#config.shutdownTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!drained) {
      this.#logger.warn('in-flight requests outlived the shutdown timeout; closing their sockets', {
        timeoutMs: this.#config.shutdownTimeoutMs,
      });
      server.closeAllConnections();
      await closed;
    }
  }
}
