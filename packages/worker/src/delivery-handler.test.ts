import type { ConsumeMessage } from 'amqplib';
import {
  PermanentError,
  TransientError,
  createTask,
  silentLogger,
  type Logger,
  type Task,
} from '@s3relay/core';
import { topologyNames, type OutgoingMessage } from '@s3relay/core/amqp';
import { describe, expect, it } from 'vitest';
import type { TaskAction } from './action.js';
import { createDeliveryHandler } from './delivery-handler.js';
import { KeyLock } from './key-lock.js';
import { createWorkerMetrics } from './metrics.js';
import { TaskHeaders } from '@s3relay/core';

const retryDelaysMs = [1000, 10_000];
const names = topologyNames({ prefix: 'p', retryDelaysMs });

function task(key = 'photos/cat.jpg'): Task {
  return createTask({
    origin: 'mcs',
    eventName: 'ObjectCreated:Put',
    bucket: 'photos',
    key,
    size: 3,
    eTag: 'abc',
    versionId: null,
    sequencer: '1',
    eventTime: null,
    receivedAt: new Date(Date.now() - 2000).toISOString(),
  });
}

function message(body: unknown, headers: Record<string, unknown> = {}): ConsumeMessage {
  const content = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const messageId = typeof body === 'object' && body !== null ? (body as Task).id : undefined;
  return {
    content,
    fields: {
      deliveryTag: 1,
      redelivered: false,
      exchange: '',
      routingKey: 'p.tasks',
      consumerTag: 'c',
    },
    properties: { headers, messageId },
  } as unknown as ConsumeMessage;
}

function setup(
  action: TaskAction,
  options: {
    publishFails?: boolean;
    maxAttempts?: number;
    logger?: Logger;
    sourceBuckets?: string[];
  } = {},
) {
  const published: OutgoingMessage[] = [];
  const metrics = createWorkerMetrics();
  const running = new Set<AbortController>();
  const handler = createDeliveryHandler({
    action,
    publisher: {
      publish: (messages) => {
        if (options.publishFails === true) {
          return Promise.reject(new TransientError('RELAY_AMQP_UNAVAILABLE', 'down'));
        }
        published.push(...messages);
        return Promise.resolve();
      },
    },
    names,
    worker: { retryDelaysMs, maxAttempts: options.maxAttempts ?? 3 },
    sourceBuckets: options.sourceBuckets ?? [],
    metrics,
    logger: options.logger ?? silentLogger,
    running,
    keyLock: new KeyLock(),
  });
  const count = async (name: string, labels: Record<string, string> = {}, series = name) => {
    const data = await metrics.registry.getSingleMetric(name)?.get();
    return (data?.values ?? [])
      .filter((v) => ((v as { metricName?: string }).metricName ?? name) === series)
      .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
      .reduce((sum, v) => sum + v.value, 0);
  };
  return { handler, published, count, running };
}

describe('delivery handler', () => {
  it('acks a successful task and counts its outcome, bytes and lag', async () => {
    const t = task();
    const seen: Task[] = [];
    const { handler, published, count } = setup((received) => {
      seen.push(received);
      return Promise.resolve({ outcome: 'copied', bytes: 3, copyMs: 12 });
    });
    expect(await handler(message(t))).toBe('ack');
    expect(seen).toEqual([t]);
    expect(published).toEqual([]);
    expect(await count('s3relay_worker_tasks_total', { outcome: 'copied' })).toBe(1);
    expect(await count('s3relay_worker_bytes_copied_total')).toBe(3);
    const lag = 's3relay_worker_replication_lag_seconds';
    expect(await count(lag, {}, `${lag}_count`)).toBe(1);
    expect(await count(lag, {}, `${lag}_sum`)).toBeGreaterThanOrEqual(2);
  });

  it('counts and logs a redelivery with the delivery count the broker gives', async () => {
    const lines: { message: string; meta: Record<string, unknown> }[] = [];
    const recording = (context: Record<string, unknown>): Logger => {
      const write = (message: string, meta: Record<string, unknown> = {}) => {
        lines.push({ message, meta: { ...context, ...meta } });
      };
      return {
        debug: write,
        info: write,
        warn: write,
        error: write,
        child: (more) => recording({ ...context, ...more }),
      };
    };
    const t = task();
    const { handler, count } = setup(() => Promise.resolve({ outcome: 'unchanged' }), {
      logger: recording({}),
    });
    expect(await handler(message(t))).toBe('ack');
    expect(await count('s3relay_worker_redeliveries_total')).toBe(0);
    const again = message(t, { 'x-delivery-count': 2 });
    again.fields.redelivered = true;
    expect(await handler(again)).toBe('ack');
    expect(await count('s3relay_worker_redeliveries_total')).toBe(1);
    const logged = lines.filter((line) => line.message === 'task redelivered');
    expect(logged).toHaveLength(1);
    expect(logged[0]?.meta).toMatchObject({ taskId: t.id, deliveryCount: 2 });
  });

  it('dead-letters an invalid task at once, body unchanged, with the reason', async () => {
    const { handler, published, count } = setup(() => Promise.reject(new Error('not called')));
    const bad = message('{"v":2}');
    expect(await handler(bad)).toBe('ack');
    expect(published).toHaveLength(1);
    expect(published[0]?.queue).toBe('p.dlq');
    expect(published[0]?.body.equals(bad.content)).toBe(true);
    expect(published[0]?.headers?.[TaskHeaders.errorCode]).toBe('RELAY_TASK_INVALID');
    expect(String(published[0]?.headers?.[TaskHeaders.error])).toContain('invalid task');
    expect(await count('s3relay_worker_dead_letters_total', { code: 'RELAY_TASK_INVALID' })).toBe(
      1,
    );
  });

  it('parks a task for a bucket outside SOURCE_BUCKETS without running it', async () => {
    let ran = 0;
    const { handler, published, count } = setup(
      () => {
        ran += 1;
        return Promise.resolve({ outcome: 'copied' });
      },
      { sourceBuckets: ['data', 'logs'] },
    );
    expect(await handler(message(task()))).toBe('ack');
    expect(ran).toBe(0);
    expect(published).toHaveLength(1);
    expect(published[0]?.queue).toBe('p.dlq');
    expect(published[0]?.headers?.[TaskHeaders.errorCode]).toBe('RELAY_TASK_BUCKET_NOT_ALLOWED');
    expect(String(published[0]?.headers?.[TaskHeaders.error])).toBe(
      'bucket "photos" is not in SOURCE_BUCKETS (data, logs); the task was not run',
    );
    expect(
      await count('s3relay_worker_dead_letters_total', { code: 'RELAY_TASK_BUCKET_NOT_ALLOWED' }),
    ).toBe(1);
    expect(await handler(message({ ...task(), bucket: 'logs' }))).toBe('ack');
    expect(ran).toBe(1);
  });

  it('sends a transient failure to the retry tier of its attempt, then acks', async () => {
    const { handler, published, count } = setup(() =>
      Promise.reject(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })),
    );
    const t = task();
    expect(await handler(message(t, { [TaskHeaders.attempt]: 2 }))).toBe('ack');
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ queue: 'p.retry.10s', messageId: t.id });
    expect(published[0]?.headers?.[TaskHeaders.attempt]).toBe(3);
    expect(published[0]?.headers?.[TaskHeaders.errorCode]).toBe('RELAY_S3_NETWORK');
    expect(await count('s3relay_worker_retries_total', { code: 'RELAY_S3_NETWORK' })).toBe(1);
  });

  it('dead-letters a permanent failure, and a transient one out of attempts', async () => {
    const permanent = setup(() =>
      Promise.reject(new PermanentError('RELAY_S3_ACCESS_DENIED', 'AccessDenied')),
    );
    expect(await permanent.handler(message(task()))).toBe('ack');
    expect(permanent.published[0]?.queue).toBe('p.dlq');
    expect(permanent.published[0]?.headers?.[TaskHeaders.attempts]).toBe(1);

    const exhausted = setup(
      () => Promise.reject(new TransientError('RELAY_S3_SERVER_ERROR', '500')),
      { maxAttempts: 3 },
    );
    expect(await exhausted.handler(message(task(), { [TaskHeaders.attempt]: 3 }))).toBe('ack');
    expect(exhausted.published[0]?.queue).toBe('p.dlq');
    expect(exhausted.published[0]?.headers?.[TaskHeaders.attempts]).toBe(3);
  });

  it('requeues the original when its retry copy cannot be published', async () => {
    const { handler, count } = setup(
      () => Promise.reject(new TransientError('RELAY_S3_SERVER_ERROR', '500')),
      { publishFails: true },
    );
    expect(await handler(message(task()))).toBe('requeue');
    expect(await count('s3relay_worker_tasks_total', { outcome: 'requeued' })).toBe(1);
  });

  it('requeues a task aborted by shutdown without publishing anything', async () => {
    let actionStarted = (): void => undefined;
    const started = new Promise<void>((resolve) => {
      actionStarted = resolve;
    });
    const { handler, published, running } = setup(
      (_task, { signal }) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
          actionStarted();
        }),
    );
    const settlement = handler(message(task()));
    await started;
    expect(running.size).toBe(1);
    for (const controller of running) controller.abort();
    expect(await settlement).toBe('requeue');
    expect(published).toEqual([]);
    expect(running.size).toBe(0);
  });
});
