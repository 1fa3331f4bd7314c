import { createHash } from 'node:crypto';
import type { ConsumeMessage } from 'amqplib';
import {
  PermanentError,
  parseTask,
  serializeError,
  summarizeError,
  type Config,
  type Logger,
  type RelayError,
} from '@s3relay/core';
import type { MessageHandler, Publisher, Settlement, TopologyNames } from '@s3relay/core/amqp';
import { classifyS3Error } from '@s3relay/core/s3';
import type { TaskAction } from './action.js';
import type { KeyLock } from './key-lock.js';
import type { WorkerMetrics } from './metrics.js';
import { attemptOf, decideFailure } from './retry-policy.js';

export interface DeliveryHandlerOptions {
  readonly action: TaskAction;
  readonly publisher: Pick<Publisher, 'publish'>;
  readonly names: TopologyNames;
  readonly worker: Pick<Config['worker'], 'retryDelaysMs' | 'maxAttempts'>;
  /** SOURCE_BUCKETS: a task for any other bucket is parked, never run (empty: any). */
  readonly sourceBuckets: readonly string[];
  readonly metrics: WorkerMetrics;
  readonly logger: Logger;
  /** One controller per running task; the worker aborts them when its grace period is over. */
  readonly running: Set<AbortController>;
  readonly keyLock: KeyLock;
}

/**
 * Handles one delivery of the tasks queue from start to settlement:
 *
 * 1. validates the body against the task contract; an invalid task is dead-lettered at once with
 *    the reason (it could never succeed, so it must not loop);
 * 2. parks a task for a bucket outside SOURCE_BUCKETS at once, unrun: the broker may carry
 *    tasks no ingress of this deployment accepted (a forged or foreign publish, another
 *    deployment's resync), and running one could overwrite or delete another bucket's backup;
 * 3. runs the action, one task per key at a time in this process;
 * 4. on failure publishes a copy — to the delay tier of its attempt, or to the DLQ when the error
 *    is permanent or the attempts are used up — and acks the original only once the broker has
 *    confirmed the copy. When the copy cannot be published the original is requeued instead,
 *    so a task is never lost between the two;
 * 5. a task aborted by shutdown is requeued as it was.
 */
export function createDeliveryHandler(options: DeliveryHandlerOptions): MessageHandler {
  const { metrics } = options;
  const allowed = new Set(options.sourceBuckets);

  return async (message) => {
    const headers = message.properties.headers ?? {};
    const attempt = attemptOf(headers);
    const parsed = parseTask(message.content);
    if (!parsed.ok) {
      const messageId = messageIdOf(message);
      const error = new PermanentError('RELAY_TASK_INVALID', `invalid task: ${parsed.reason}`, {
        context: { messageId },
      });
      return settleFailure(message, messageId, error, attempt, options.logger.child({ messageId }));
    }
    const task = parsed.task;
    const logger = options.logger.child({
      taskId: task.id,
      bucket: task.bucket,
      key: task.key,
      kind: task.kind,
      origin: task.origin,
      attempt,
    });
    if (message.fields.redelivered) {
      // A worker or broker node that went away, a requeue, or a task that crashes its worker:
      // the broker counts each towards AMQP_DELIVERY_LIMIT, so operators should see them.
      metrics.redeliveries.inc();
      logger.info('task redelivered', { deliveryCount: deliveryCountOf(headers) });
    }
    if (allowed.size > 0 && !allowed.has(task.bucket)) {
      const error = new PermanentError(
        'RELAY_TASK_BUCKET_NOT_ALLOWED',
        `bucket "${task.bucket}" is not in SOURCE_BUCKETS (${[...allowed].join(', ')}); the task was not run`,
        { context: { bucket: task.bucket, key: task.key, messageId: task.id } },
      );
      return settleFailure(message, messageIdOf(message, task.id), error, attempt, logger);
    }
    const controller = new AbortController();
    options.running.add(controller);
    metrics.inFlight.inc();
    try {
      const result = await options.keyLock.run(
        `${task.bucket}\u0000${task.key}`,
        controller.signal,
        () => options.action(task, { signal: controller.signal, logger }),
      );
      metrics.tasks.inc({ outcome: result.outcome });
      if (result.bytes !== undefined) metrics.bytesCopied.inc(result.bytes);
      if (result.copyMs !== undefined) metrics.copyDuration.observe(result.copyMs / 1000);
      const lagSeconds = (Date.now() - Date.parse(task.receivedAt)) / 1000;
      const wrote = result.outcome === 'copied' || result.outcome === 'deleted';
      if (wrote && Number.isFinite(lagSeconds))
        metrics.replicationLag.observe(Math.max(0, lagSeconds));
      const level =
        result.outcome === 'unchanged' || result.outcome === 'absent' ? 'debug' : 'info';
      logger[level]('task done', {
        outcome: result.outcome,
        bytes: result.bytes,
        copyMs: result.copyMs === undefined ? undefined : Math.round(result.copyMs),
      });
      return 'ack';
    } catch (err) {
      if (controller.signal.aborted) {
        metrics.tasks.inc({ outcome: 'requeued' });
        logger.info('task interrupted by shutdown; requeued');
        return 'requeue';
      }
      const error = classifyS3Error(err, {
        bucket: task.bucket,
        key: task.key,
        messageId: task.id,
      });
      return settleFailure(message, messageIdOf(message, task.id), error, attempt, logger);
    } finally {
      options.running.delete(controller);
      metrics.inFlight.dec();
    }
  };

  async function settleFailure(
    message: ConsumeMessage,
    messageId: string,
    error: RelayError,
    attempt: number,
    logger: Logger,
  ): Promise<Settlement> {
    const decision = decideFailure({
      error,
      attempt,
      headers: message.properties.headers,
      names: options.names,
      retryDelaysMs: options.worker.retryDelaysMs,
      maxAttempts: options.worker.maxAttempts,
      now: new Date(),
    });
    try {
      await options.publisher.publish([
        { queue: decision.queue, body: message.content, messageId, headers: decision.headers },
      ]);
    } catch (publishErr) {
      metrics.tasks.inc({ outcome: 'requeued' });
      logger.warn('could not publish the failed task; requeueing it', {
        error: serializeError(error),
        publishError: serializeError(publishErr),
      });
      return 'requeue';
    }
    if (decision.action === 'retry') {
      metrics.tasks.inc({ outcome: 'retried' });
      metrics.retries.inc({ code: error.code });
      logger.warn('task failed; retrying later', {
        error: summarizeError(error),
        code: error.code,
        retryInMs: decision.delayMs,
        queue: decision.queue,
      });
    } else {
      metrics.tasks.inc({ outcome: 'dead_lettered' });
      metrics.deadLetters.inc({ code: error.code });
      logger.error('task dead-lettered', {
        error: serializeError(error),
        code: error.code,
        attempts: attempt,
        queue: decision.queue,
      });
    }
    return 'ack';
  }
}

/** Earlier deliveries of this message, as a quorum queue counts them (`x-delivery-count`). */
function deliveryCountOf(headers: Record<string, unknown>): number | undefined {
  const count = headers['x-delivery-count'];
  return typeof count === 'number' ? count : undefined;
}

/** The message id to carry on: the publisher's, else the task's, else a hash of the body. */
function messageIdOf(message: ConsumeMessage, taskId?: string): string {
  const own = message.properties.messageId as unknown;
  if (typeof own === 'string' && own !== '') return own;
  return taskId ?? createHash('sha256').update(message.content).digest('hex').slice(0, 32);
}
