import {
  Lifecycle,
  RelayError,
  TransientError,
  isReadyProbe,
  startMetricsServer,
  type Logger,
  type Config,
  type MetricsServer,
  type Service,
  type ServiceState,
  type StartContext,
} from '@s3relay/core';
import type { Registry } from 'prom-client';
import { composeWorker, type WorkerDeps, type WorkerParts } from './compose.js';

/** A worker consuming the tasks queue. */
export interface Worker extends Service {
  /**
   * Runs the action's startup check, starts the metrics server, connects (or uses the given
   * broker), checks both S3 sides (a listing of every configured bucket: see `preflight.ts`) and
   * starts consuming. Resolves once consuming. While the broker or S3 is unreachable it keeps
   * trying (and `/readyz` answers 503); it rejects only when that cannot succeed: a topology
   * mismatch, refused credentials, a bucket S3 refuses or does not have, an endpoint that is not
   * S3, an address in use, or an ACTION_SCRIPT that is not executable. Then everything started
   * is closed again and the state is `failed`. Calling it again returns the same promise.
   */
  start(): Promise<void>;
  /**
   * Graceful shutdown, idempotent: stops consuming, lets running tasks finish within
   * SHUTDOWN_TIMEOUT_MS, then aborts the rest (their multipart uploads are aborted, the tasks
   * requeued), and closes the channel, the broker connection (when owned), the metrics server
   * and the S3 clients.
   */
  close(): Promise<void>;
  /**
   * `broker` connected, `consuming`, and `s3`: the last check of the S3 buckets passed (a check
   * older than a few seconds is repeated in the background).
   */
  readonly checks: { readonly broker: boolean; readonly consuming: boolean; readonly s3: boolean };
  /** This worker's own Prometheus registry. */
  readonly registry: Registry;
}

export type { WorkerDeps } from './compose.js';

/**
 * After the grace period, how long aborted tasks get to release what they hold (abort their
 * multipart uploads, kill their scripts) before the channel closes under them.
 */
const ABORT_GRACE_MS = 10_000;

/** Creates a worker (its parts wired by `compose.ts`); nothing happens until {@link Worker.start}. */
export function createWorker(deps: WorkerDeps): Worker {
  return new RelayWorker(deps);
}

/** The worker's lifecycle: start, drain and close the parts `composeWorker` wired. */
class RelayWorker implements Worker {
  readonly #config: Config;
  readonly #logger: Logger;
  readonly #parts: WorkerParts;
  readonly #lifecycle: Lifecycle;
  #server: MetricsServer | undefined;

  constructor(deps: WorkerDeps) {
    this.#config = deps.config;
    this.#logger = deps.logger;
    this.#parts = composeWorker(deps);
    this.#lifecycle = new Lifecycle({
      name: 'worker',
      logger: deps.logger,
      start: (context) => this.#start(context),
    });
  }

  get state(): ServiceState {
    return this.#lifecycle.state;
  }

  get error(): unknown {
    return this.#lifecycle.error;
  }

  get checks(): Worker['checks'] {
    const { broker, consumer, s3Health } = this.#parts;
    return {
      broker: broker.connection !== undefined,
      consuming: consumer.isConsuming,
      s3: s3Health.isHealthy,
    };
  }

  get isReady(): boolean {
    return isReadyProbe(this);
  }

  get metricsPort(): number | undefined {
    return this.#server?.port;
  }

  get registry(): Registry {
    return this.#parts.metrics.registry;
  }

  start(): Promise<void> {
    return this.#lifecycle.start();
  }

  close(): Promise<void> {
    return this.#lifecycle.close();
  }

  /** Each step registers its undo as soon as it started: they run in reverse on close. */
  async #start({ signal, onClose, until }: StartContext): Promise<void> {
    const { worker } = this.#config;
    const { broker, ownsBroker, consumer, publisher, ledger, telemetry, s3Health } = this.#parts;
    onClose('destroy the S3 clients', () => {
      for (const client of this.#parts.clients) client.destroy();
    });
    onClose('stop checking S3', () => s3Health.close());
    await this.#parts.checkAction();
    const server = await startMetricsServer({
      host: worker.metricsHost,
      port: worker.metricsPort,
      registry: this.registry,
      probe: this,
      logger: this.#logger,
      variables: { host: 'METRICS_HOST', port: 'METRICS_PORT' },
    });
    this.#server = server;
    // Last: probes see the shutdown until the end.
    onClose('close the metrics server', () => server.close());
    broker.start();
    if (ownsBroker) onClose('close the broker connection', () => broker.close());
    onClose('close the delete ledger', () => ledger.close());
    onClose('close the publisher', () => publisher.close());
    telemetry.start();
    onClose('say goodbye to the console', () => telemetry.close());
    // No task is taken before both S3 sides answer: with a wrong endpoint, key or bucket every
    // task would end in the retry tiers or the DLQ. The broker is waited for meanwhile, so a
    // refusal of either fails the start.
    await Promise.all([until(s3Health.untilUsable()), this.#untilConnected(signal, until)]);
    consumer.start();
    onClose('close the channel', () => consumer.close());
    // First on close, so the console counts the worker until its last task is settled.
    onClose('finish running tasks', () => this.#drain());
    await this.#untilConnected(signal, until, () => consumer.isConsuming);
    this.#logger.info('worker started', {
      queue: broker.names.tasks,
      action: worker.action,
      concurrency: worker.concurrency,
      metricsPort: this.metricsPort,
    });
  }

  /**
   * Waits for the broker (retrying transient failures for ever, quietly: the broker logs each
   * change of its state) and then for `done` (the subscription), until the start is aborted.
   */
  async #untilConnected(
    signal: AbortSignal,
    until: StartContext['until'],
    done: () => boolean = () => true,
  ): Promise<void> {
    const { broker } = this.#parts;
    for (;;) {
      try {
        await until(broker.waitConnected(5000));
      } catch (err) {
        if (signal.aborted) throw err;
        if (err instanceof RelayError && !err.retryable) throw err;
        if (broker.state === 'closed') throw err;
        continue;
      }
      if (done()) return;
      await until(new Promise((resolve) => setTimeout(resolve, 20)));
    }
  }

  /** Stops consuming, lets running tasks finish within the grace period, then aborts the rest. */
  async #drain(): Promise<void> {
    const { consumer, running } = this.#parts;
    await consumer.stop();
    const inFlight = consumer.inFlight;
    if (inFlight > 0) {
      this.#logger.info('waiting for running tasks', {
        tasks: inFlight,
        timeoutMs: this.#config.shutdownTimeoutMs,
      });
    }
    if (await consumer.drain(this.#config.shutdownTimeoutMs)) return;
    this.#logger.warn('grace period over; aborting running tasks', { tasks: running.size });
    const reason = new TransientError('RELAY_SHUTDOWN', 'the worker is shutting down');
    for (const controller of running) controller.abort(reason);
    if (!(await consumer.drain(ABORT_GRACE_MS))) {
      this.#logger.error('aborted tasks did not settle; closing under them', {
        tasks: running.size,
      });
    }
  }
}
