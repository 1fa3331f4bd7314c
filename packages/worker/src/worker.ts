import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  PermanentError,
  RelayError,
  TransientError,
  createTask,
  deletesReplicated,
  serializeError,
  startMetricsServer,
  type Config,
  type Logger,
  type MetricsServer,
  type Task,
} from '@s3relay/core';
import {
  Broker,
  Consumer,
  brokerOptionsFrom,
  Publisher,
  registerBrokerMetrics,
  type TopologyNames,
} from '@s3relay/core/amqp';
import { checkBucket, createS3Client, normalizeETag, type SourceState } from '@s3relay/core/s3';
import { TelemetryPublisher } from '@s3relay/core/telemetry';
import type { Registry } from 'prom-client';
import type { TaskAction } from './action.js';
import { BackupBucketCheck } from './backup-bucket-check.js';
import { SourceBucketProof } from './bucket-proof.js';
import { DeleteBreaker } from './delete-breaker.js';
import { createDeleteGate } from './delete-gate.js';
import { DeleteLedger } from './delete-ledger.js';
import { createDeletionCheck } from './deletion-check.js';
import { createDeliveryHandler } from './delivery-handler.js';
import { KeyLock } from './key-lock.js';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.js';
import { createReplicateAction } from './replicate.js';
import { warnIfUnversioned } from './versioning-check.js';
import { createScriptAction } from './script-action.js';
import { S3Health, bucketTargets } from './preflight.js';

export interface WorkerDeps {
  readonly config: Config;
  readonly logger: Logger;
  /**
   * A broker to consume from, owned by the caller (started here if it is not, never closed
   * here). Without one the worker opens and closes its own.
   */
  readonly broker?: Broker;
}

/** `idle` → `starting` → `running` → `closing` → `closed`. */
export type WorkerState = 'idle' | 'starting' | 'running' | 'closing' | 'closed';

/** A worker consuming the tasks queue. */
export interface Worker {
  /**
   * Starts the metrics server, connects (or uses the given broker), checks both S3 sides (a
   * listing of every configured bucket: see `preflight.ts`) and starts consuming. Resolves once
   * consuming. While the broker or S3 is unreachable it keeps trying (and `/readyz` answers
   * 503); it rejects only when that cannot succeed: a topology mismatch, refused credentials, a
   * bucket S3 refuses or does not have, an endpoint that is not S3, an address in use, or an
   * ACTION_SCRIPT that is not executable. Calling it again returns the same promise.
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
   * Consuming, connected, not shutting down, and the last check of the S3 buckets passed (a
   * check older than a few seconds is repeated in the background).
   */
  readonly isReady: boolean;
  readonly state: WorkerState;
  /** The port of `/healthz`, `/readyz` and `/metrics` once started. */
  readonly metricsPort: number | undefined;
  /** This worker's own Prometheus registry. */
  readonly registry: Registry;
}

/**
 * After the grace period, how long aborted tasks get to release what they hold (abort their
 * multipart uploads, kill their scripts) before the channel closes under them.
 */
const ABORT_GRACE_MS = 10_000;

/** Creates a worker; nothing happens until {@link Worker.start}. */
export function createWorker(deps: WorkerDeps): Worker {
  return new RelayWorker(deps);
}

class RelayWorker implements Worker {
  readonly #config: Config;
  readonly #logger: Logger;
  readonly #broker: Broker;
  readonly #ownsBroker: boolean;
  readonly #publisher: Publisher;
  readonly #consumer: Consumer;
  readonly #metrics: WorkerMetrics;
  readonly #telemetry: TelemetryPublisher;
  readonly #s3Health: S3Health;
  readonly #clients: S3Client[] = [];
  readonly #ledger: DeleteLedger;
  readonly #running = new Set<AbortController>();
  #state: WorkerState = 'idle';
  #server: MetricsServer | undefined;
  #starting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(deps: WorkerDeps) {
    this.#config = deps.config;
    this.#logger = deps.logger;
    const { amqp, worker } = deps.config;
    this.#ownsBroker = deps.broker === undefined;
    this.#broker = deps.broker ?? new Broker(brokerOptionsFrom(deps.config, 'worker', deps.logger));
    this.#metrics = createWorkerMetrics();
    this.#s3Health = new S3Health({ targets: bucketTargets(deps.config), logger: deps.logger });
    registerBrokerMetrics(this.#metrics.registry, this.#broker);
    this.#telemetry = new TelemetryPublisher({
      broker: this.#broker,
      prefix: amqp.prefix,
      role: 'worker',
      registry: this.#metrics.registry,
      intervalMs: deps.config.telemetryIntervalMs,
      details: { concurrency: worker.concurrency, action: worker.action },
      logger: deps.logger,
    });
    this.#publisher = new Publisher(this.#broker, {
      timeoutMs: amqp.publishTimeoutMs,
      // Every running task publishes at most one message at a time (a retry, a dead letter or a
      // recheck), so this bound is never the reason a publish fails.
      maxInFlight: worker.concurrency * 2 + 16,
      logger: deps.logger,
    });
    this.#ledger = new DeleteLedger({
      connection: () => this.#broker.connection,
      prefix: amqp.prefix,
      limit: worker.deleteLimit,
      timeoutMs: amqp.publishTimeoutMs,
    });
    this.#consumer = new Consumer(this.#broker, {
      queue: this.#names.tasks,
      prefetch: worker.concurrency,
      logger: deps.logger,
      handler: createDeliveryHandler({
        action: this.#createAction(),
        publisher: this.#publisher,
        names: this.#names,
        worker,
        sourceBuckets: deps.config.source.buckets,
        metrics: this.#metrics,
        logger: deps.logger,
        running: this.#running,
        keyLock: new KeyLock(),
      }),
    });
  }

  get #names(): TopologyNames {
    return this.#broker.names;
  }

  get state(): WorkerState {
    return this.#state;
  }

  get isReady(): boolean {
    return (
      this.#state === 'running' &&
      this.#broker.connection !== undefined &&
      this.#consumer.isConsuming &&
      this.#s3Health.isHealthy
    );
  }

  get metricsPort(): number | undefined {
    return this.#server?.port;
  }

  get registry(): Registry {
    return this.#metrics.registry;
  }

  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    if (this.#state !== 'idle') throw new Error(`cannot start a worker that is ${this.#state}`);
    this.#setState('starting');
    const { worker } = this.#config;
    if (worker.action === 'script') await assertExecutable(worker.actionScript);
    this.#server = await startMetricsServer({
      host: worker.metricsHost,
      port: worker.metricsPort,
      registry: this.#metrics.registry,
      isReady: () => this.isReady,
      logger: this.#logger,
      variables: { host: 'METRICS_HOST', port: 'METRICS_PORT' },
    });
    this.#broker.start();
    this.#telemetry.start();
    // No task is taken before both S3 sides answer: with a wrong endpoint, key or bucket every
    // task would end in the retry tiers or the DLQ. The broker is waited for meanwhile, so a
    // refusal of either fails the start.
    await Promise.all([this.#s3Health.untilUsable(), this.#untilConnected()]);
    if (this.#closing !== undefined) return;
    this.#consumer.start();
    await this.#untilConnected(() => this.#consumer.isConsuming);
    // close() during start: it owns the state from here.
    if (this.#closing !== undefined) return;
    this.#setState('running');
    this.#logger.info('worker started', {
      queue: this.#names.tasks,
      action: worker.action,
      concurrency: worker.concurrency,
      metricsPort: this.metricsPort,
    });
  }

  /**
   * Waits for the broker (retrying transient failures for ever, quietly: the broker logs each
   * change of its state) and then for `done` (the subscription).
   */
  async #untilConnected(done: () => boolean = () => true): Promise<void> {
    while (this.#state === 'starting') {
      try {
        await this.#broker.waitConnected(5000);
      } catch (err) {
        if (err instanceof RelayError && !err.retryable) throw err;
        if (this.#broker.state === 'closed') throw err;
        continue;
      }
      if (done()) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#setState('closing');
    const steps: [string, () => Promise<void>][] = [
      ['stop consuming', () => this.#consumer.stop()],
      ['finish running tasks', () => this.#drain()],
      // After the drain, so the console counts the worker until its last task is settled.
      ['say goodbye to the console', () => this.#telemetry.close()],
      ['close the channel', () => this.#consumer.close()],
      ['close the publisher', () => this.#publisher.close()],
      ['close the delete ledger', () => this.#ledger.close()],
      [
        'close the broker connection',
        () => (this.#ownsBroker ? this.#broker.close() : Promise.resolve()),
      ],
      ['close the metrics server', () => this.#server?.close() ?? Promise.resolve()],
    ];
    for (const [step, run] of steps) {
      try {
        await run();
      } catch (err) {
        this.#logger.error('shutdown step failed', { step, error: serializeError(err) });
      }
    }
    this.#s3Health.close();
    for (const client of this.#clients) client.destroy();
    this.#setState('closed');
  }

  /** Lets running tasks finish within the grace period, then aborts the rest. */
  async #drain(): Promise<void> {
    const inFlight = this.#consumer.inFlight;
    if (inFlight > 0) {
      this.#logger.info('waiting for running tasks', {
        tasks: inFlight,
        timeoutMs: this.#config.shutdownTimeoutMs,
      });
    }
    if (await this.#consumer.drain(this.#config.shutdownTimeoutMs)) return;
    this.#logger.warn('grace period over; aborting running tasks', { tasks: this.#running.size });
    const reason = new TransientError('RELAY_SHUTDOWN', 'the worker is shutting down');
    for (const controller of this.#running) controller.abort(reason);
    if (!(await this.#consumer.drain(ABORT_GRACE_MS))) {
      this.#logger.error('aborted tasks did not settle; closing under them', {
        tasks: this.#running.size,
      });
    }
  }

  #setState(state: WorkerState): void {
    this.#state = state;
    this.#logger.debug('worker state', { state });
  }

  #createAction(): TaskAction {
    const { worker } = this.#config;
    // Each running task holds one source GET and up to PART_QUEUE_SIZE part uploads, plus a
    // HEAD on each side.
    const maxSockets = worker.concurrency * (worker.partQueueSize + 2);
    const source = createS3Client(this.#config.source, {
      maxSockets,
      // The source body is read at the pace of the backup, so its socket may idle for long
      // while the copy is healthy: stalls are caught by SOURCE_IDLE_TIMEOUT_MS, which only
      // counts while data is wanted, and headers must arrive within a minute.
      socketTimeoutMs: 0,
      requestTimeoutMs: Math.max(60_000, worker.sourceIdleTimeoutMs),
      logger: this.#logger,
    });
    this.#clients.push(source);
    const deleteGate = createDeleteGate({
      source,
      bucketProof: new SourceBucketProof(source),
      breaker: new DeleteBreaker({
        ledger: this.#ledger,
        publish: (messages) => this.#publisher.publish(messages),
        heldQueue: this.#names.held,
        limit: worker.deleteLimit,
        metrics: this.#metrics,
        logger: this.#logger,
      }),
    });
    const replicateDeletes = deletesReplicated(worker);
    if (worker.action === 'script') {
      return createScriptAction({
        // loadConfig requires ACTION_SCRIPT with ACTION=script.
        script: worker.actionScript ?? '',
        timeoutMs: worker.actionScriptTimeoutMs,
        passEnv: worker.actionScriptEnv,
        environment: process.env,
        deletionCheck: createDeletionCheck({
          source,
          deleteGate,
          replicateDeletes,
        }),
      });
    }
    const dest = createS3Client(this.#config.dest, { maxSockets, logger: this.#logger });
    this.#clients.push(dest);
    void warnIfUnversioned(dest, this.#config.dest, this.#logger);
    const backupBuckets = new BackupBucketCheck({
      check: (bucket) =>
        checkBucket(dest, {
          side: 'backup',
          bucket,
          variable: 'DEST_BUCKET',
          endpoint: this.#config.dest,
        }),
      checkedAtStart: bucketTargets(this.#config)
        .filter((target) => target.side === 'backup')
        .map((target) => target.bucket),
    });
    return createReplicateAction({
      source,
      dest,
      backup: this.#config.dest,
      worker: { ...worker, replicateDeletes },
      deleteGate,
      backupBucketReady: (bucket) => backupBuckets.ensure(bucket),
      enqueueRecheck: (task, current) => this.#enqueueRecheck(task, current),
    });
  }

  async #enqueueRecheck(task: Task, current: SourceState | undefined): Promise<void> {
    const recheck = createTask({
      origin: 'recheck',
      kind: 'other',
      eventName: 'Recheck',
      bucket: task.bucket,
      key: task.key,
      size: current?.size ?? null,
      eTag: current === undefined ? null : normalizeETag(current.eTag),
      versionId: null,
      // Unique, so that a recheck is never mistaken for a duplicate of an earlier one.
      sequencer: randomUUID(),
      eventTime: null,
    });
    await this.#publisher.publish([
      {
        queue: this.#names.tasks,
        body: Buffer.from(JSON.stringify(recheck)),
        messageId: recheck.id,
      },
    ]);
    this.#metrics.rechecks.inc();
    this.#logger.info('source changed while replicating; recheck enqueued', {
      taskId: task.id,
      recheckId: recheck.id,
      bucket: task.bucket,
      key: task.key,
    });
  }
}

async function assertExecutable(script: string | undefined): Promise<void> {
  try {
    await access(script ?? '', constants.X_OK);
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new PermanentError(
      'RELAY_CONFIG_INVALID',
      `ACTION_SCRIPT=${script ?? ''}: ${missing ? 'no such file' : 'not executable (chmod +x it)'}`,
      { cause: err },
    );
  }
}
