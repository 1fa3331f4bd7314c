import { performance } from 'node:perf_hooks';
import { PermanentError, type Task, type WebhookSource } from '@s3relay/core';
import type { OutgoingMessage } from '@s3relay/core/amqp';
import type { HandledWebhook } from './webhook-answer.js';
import type { WebhookDeps } from './webhook-deps.js';

/**
 * Publishes a request's tasks and resolves once the broker confirmed every one of them
 * (docs/ARCHITECTURE.md, "The ingress answers 2xx only after the broker confirmed"). Refuses the
 * whole request, publishing nothing, when a record is for a bucket outside SOURCE_BUCKETS or the
 * records do not fit HTTP_MAX_IN_FLIGHT; rejects as the publisher rejects.
 */
export async function publishRecords(
  deps: WebhookDeps,
  source: WebhookSource,
  tasks: readonly Task[],
): Promise<HandledWebhook> {
  const { sourceBuckets, tasksQueue } = deps.settings;
  const foreign = [...new Set(tasks.map((task) => task.bucket))].filter(
    (bucket) => sourceBuckets.size > 0 && !sourceBuckets.has(bucket),
  );
  if (foreign.length > 0) {
    throw new PermanentError(
      'RELAY_WEBHOOK_BUCKET_NOT_ALLOWED',
      `bucket(s) not in SOURCE_BUCKETS: ${foreign.slice(0, 5).join(', ')}`,
    );
  }
  const accepted = { status: 200, outcome: 'accepted', source, records: tasks.length } as const;
  if (tasks.length === 0) return { ...accepted, body: { accepted: 0 } };
  deps.recordsInFlight.take(tasks.length);
  try {
    const messages = tasks.map(
      (task): OutgoingMessage => ({
        queue: tasksQueue,
        body: Buffer.from(JSON.stringify(task)),
        messageId: task.id,
        headers: { 'x-s3relay-attempt': 0 },
      }),
    );
    const started = performance.now();
    try {
      await deps.publisher.publish(messages);
      deps.metrics.publishSeconds.observe({ result: 'confirmed' }, seconds(started));
    } catch (err) {
      deps.metrics.publishSeconds.observe({ result: 'failed' }, seconds(started));
      throw err;
    }
  } finally {
    deps.recordsInFlight.release(tasks.length);
  }
  deps.metrics.recordsPublished.inc({ source }, tasks.length);
  return { ...accepted, body: { accepted: tasks.length } };
}

function seconds(startedMs: number): number {
  return (performance.now() - startedMs) / 1000;
}
