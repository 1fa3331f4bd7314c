import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { createTask, deletesReplicated, type Config, type Logger, type Task } from '@s3relay/core';
import {
  Broker,
  Consumer,
  Publisher,
  brokerOptionsFrom,
  registerBrokerMetrics,
  type TopologyNames,
} from '@s3relay/core/amqp';
import { checkBucket, createS3Client, normalizeETag, type SourceState } from '@s3relay/core/s3';
import { TelemetryPublisher } from '@s3relay/core/telemetry';
import type { TaskAction } from './action.js';
import { BackupBucketCheck } from './backup-bucket-check.js';
import { SourceBucketProof } from './bucket-proof.js';
import { DeleteBreaker } from './delete-breaker.js';
import { createDeleteGate, type DeleteGate } from './delete-gate.js';
import { DeleteLedger } from './delete-ledger.js';
import { createDeletionCheck } from './deletion-check.js';
import { createDeliveryHandler } from './delivery-handler.js';
import { KeyLock } from './key-lock.js';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.js';
import { S3Health, bucketTargets } from './preflight.js';
import { createReplicateAction } from './replicate.js';
import { assertExecutable, createScriptAction } from './script-action.js';
import { warnIfUnversioned } from './versioning-check.js';

export interface WorkerDeps {
  readonly config: Config;
  readonly logger: Logger;
  /**
   * A broker to consume from, owned by the caller (started by the worker if it is not, never
   * closed by it). Without one the worker opens and closes its own.
   */
  readonly broker?: Broker;
}

/** A worker's parts, wired from its configuration; nothing is started or connected yet. */
export interface WorkerParts {
  readonly broker: Broker;
  /** Whether the worker closes the broker (it made it). */
  readonly ownsBroker: boolean;
  readonly metrics: WorkerMetrics;
  readonly telemetry: TelemetryPublisher;
  readonly publisher: Publisher;
  readonly ledger: DeleteLedger;
  /** Consumes the tasks queue with the delivery handler around the action. */
  readonly consumer: Consumer;
  /** One controller per running task, to abort them when the grace period is over. */
  readonly running: Set<AbortController>;
  /** The startup preflight and the S3 half of readiness. */
  readonly s3Health: S3Health;
  /** The action's S3 clients, destroyed when the worker closes. */
  readonly clients: readonly S3Client[];
  /** The action's own startup check, run first: rejects when it cannot work. */
  readonly checkAction: () => Promise<void>;
}

/**
 * Wires a worker from its configuration: broker, publisher, delete ledger and breaker, the action
 * (`ACTION`), the delivery handler around it, the consumer, metrics and telemetry. It connects
 * nothing and sends nothing; the worker's lifecycle (`worker.ts`) starts and closes the parts.
 */
export function composeWorker(deps: WorkerDeps): WorkerParts {
  const { config, logger } = deps;
  const { amqp, worker } = config;
  const broker = deps.broker ?? new Broker(brokerOptionsFrom(config, 'worker', logger));
  const names = broker.names;
  const metrics = createWorkerMetrics();
  registerBrokerMetrics(metrics.registry, broker);
  const telemetry = new TelemetryPublisher({
    broker,
    prefix: amqp.prefix,
    role: 'worker',
    registry: metrics.registry,
    intervalMs: config.telemetryIntervalMs,
    details: { concurrency: worker.concurrency, action: worker.action },
    logger,
  });
  const publisher = new Publisher(broker, {
    timeoutMs: amqp.publishTimeoutMs,
    // Every running task publishes at most one message at a time (a retry, a dead letter or a
    // recheck), so this bound is never the reason a publish fails.
    maxInFlight: worker.concurrency * 2 + 16,
    logger,
  });
  const ledger = new DeleteLedger({
    connection: () => broker.connection,
    prefix: amqp.prefix,
    limit: worker.deleteLimit,
    timeoutMs: amqp.publishTimeoutMs,
  });
  const clients: S3Client[] = [];
  const action = composeAction({
    config,
    logger,
    clients,
    deleteGate: (source) =>
      createDeleteGate({
        source,
        bucketProof: new SourceBucketProof(source),
        breaker: new DeleteBreaker({
          ledger,
          publish: (messages) => publisher.publish(messages),
          heldQueue: names.held,
          limit: worker.deleteLimit,
          metrics,
          logger,
        }),
      }),
    enqueueRecheck: recheckEnqueuer({ publisher, names, metrics, logger }),
  });
  const running = new Set<AbortController>();
  const consumer = new Consumer(broker, {
    queue: names.tasks,
    prefetch: worker.concurrency,
    logger,
    handler: createDeliveryHandler({
      action: action.run,
      publisher,
      names,
      worker,
      sourceBuckets: config.source.buckets,
      metrics,
      logger,
      running,
      keyLock: new KeyLock(),
    }),
  });
  return {
    broker,
    ownsBroker: deps.broker === undefined,
    metrics,
    telemetry,
    publisher,
    ledger,
    consumer,
    running,
    s3Health: new S3Health({ targets: bucketTargets(config), logger }),
    clients,
    checkAction: action.check,
  };
}

interface ActionDeps {
  readonly config: Config;
  readonly logger: Logger;
  /** Receives every S3 client the action makes. */
  readonly clients: S3Client[];
  /** The delete gate over the source's client. */
  readonly deleteGate: (source: S3Client) => DeleteGate;
  readonly enqueueRecheck: (task: Task, current: SourceState | undefined) => Promise<void>;
}

interface ComposedAction {
  readonly run: TaskAction;
  /** Run once, first thing at start; rejects when the action cannot work. */
  readonly check: () => Promise<void>;
}

/** The action `ACTION` names; a new action is built here (docs/ARCHITECTURE.md, "Adding a worker action"). */
function composeAction(deps: ActionDeps): ComposedAction {
  const { config, logger, clients } = deps;
  const { worker } = config;
  // Each running task holds one source GET and up to PART_QUEUE_SIZE part uploads, plus a
  // HEAD on each side.
  const maxSockets = worker.concurrency * (worker.partQueueSize + 2);
  const source = createS3Client(config.source, {
    maxSockets,
    // The source body is read at the pace of the backup, so its socket may idle for long
    // while the copy is healthy: stalls are caught by SOURCE_IDLE_TIMEOUT_MS, which only
    // counts while data is wanted, and headers must arrive within a minute.
    socketTimeoutMs: 0,
    requestTimeoutMs: Math.max(60_000, worker.sourceIdleTimeoutMs),
    logger,
  });
  clients.push(source);
  const deleteGate = deps.deleteGate(source);
  const replicateDeletes = deletesReplicated(worker);
  switch (worker.action) {
    case 'script': {
      // loadConfig requires ACTION_SCRIPT with ACTION=script.
      const script = worker.actionScript ?? '';
      return {
        run: createScriptAction({
          script,
          timeoutMs: worker.actionScriptTimeoutMs,
          passEnv: worker.actionScriptEnv,
          environment: process.env,
          deletionCheck: createDeletionCheck({ source, deleteGate, replicateDeletes }),
        }),
        check: () => assertExecutable(script),
      };
    }
    case 'replicate': {
      const dest = createS3Client(config.dest, { maxSockets, logger });
      clients.push(dest);
      const backupBuckets = new BackupBucketCheck({
        check: (bucket) =>
          checkBucket(dest, {
            side: 'backup',
            bucket,
            variable: 'DEST_BUCKET',
            endpoint: config.dest,
          }),
        checkedAtStart: bucketTargets(config)
          .filter((target) => target.side === 'backup')
          .map((target) => target.bucket),
      });
      return {
        run: createReplicateAction({
          source,
          dest,
          backup: config.dest,
          worker: { ...worker, replicateDeletes },
          deleteGate,
          backupBucketReady: (bucket) => backupBuckets.ensure(bucket),
          enqueueRecheck: deps.enqueueRecheck,
        }),
        // A warning only: the start does not wait for it.
        check: () => {
          void warnIfUnversioned(dest, config.dest, logger);
          return Promise.resolve();
        },
      };
    }
  }
}

/** Publishes a recheck of a key whose source changed while it was being replicated. */
function recheckEnqueuer(deps: {
  readonly publisher: Publisher;
  readonly names: TopologyNames;
  readonly metrics: WorkerMetrics;
  readonly logger: Logger;
}): (task: Task, current: SourceState | undefined) => Promise<void> {
  return async (task, current) => {
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
    await deps.publisher.publish([
      {
        queue: deps.names.tasks,
        body: Buffer.from(JSON.stringify(recheck)),
        messageId: recheck.id,
      },
    ]);
    deps.metrics.rechecks.inc();
    deps.logger.info('source changed while replicating; recheck enqueued', {
      taskId: task.id,
      recheckId: recheck.id,
      bucket: task.bucket,
      key: task.key,
    });
  };
}
