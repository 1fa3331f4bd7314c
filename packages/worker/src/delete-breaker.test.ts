import {
  TaskHeaders,
  TransientError,
  createTask,
  parseDeleteLimit,
  type Logger,
  type Task,
} from '@s3relay/core';
import type { OutgoingMessage } from '@s3relay/core/amqp';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeleteBreaker } from './delete-breaker.js';
import { createWorkerMetrics } from './metrics.js';

function removal(key: string): Task {
  return createTask({
    origin: 'mcs',
    eventName: 'ObjectRemoved:Delete',
    bucket: 'photos',
    key,
    size: null,
    eTag: null,
    versionId: null,
    sequencer: key,
    eventTime: null,
  });
}

interface Line {
  readonly level: string;
  readonly message: string;
  readonly meta: Record<string, unknown> | undefined;
}

function recordingLogger(lines: Line[]): Logger {
  const at =
    (level: string) =>
    (message: string, meta?: Record<string, unknown>): void => {
      lines.push({ level, message, meta });
    };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}

/** A breaker whose ledger answers `answers` in turn (true: granted). */
function setup(answers: boolean[], options: { publishFails?: boolean } = {}) {
  const published: OutgoingMessage[] = [];
  const lines: Line[] = [];
  const metrics = createWorkerMetrics();
  const asked: string[] = [];
  const breaker = new DeleteBreaker({
    ledger: {
      name: 'p.delete-ledger.2-per-1m',
      grant: (record) => {
        asked.push(record.key);
        const answer = answers.shift();
        if (answer === undefined) throw new Error('the ledger was asked more than scripted');
        return Promise.resolve(answer);
      },
    },
    publish: (messages) => {
      if (options.publishFails === true) {
        return Promise.reject(new TransientError('RELAY_AMQP_UNAVAILABLE', 'down'));
      }
      published.push(...messages);
      return Promise.resolve();
    },
    heldQueue: 'p.held',
    limit: parseDeleteLimit('2/1m'),
    metrics,
    logger: recordingLogger(lines),
  });
  const value = async (name: string) =>
    (await metrics.registry.getSingleMetric(name)?.get())?.values[0]?.value ?? 0;
  return { breaker, published, lines, value, asked };
}

const signal = new AbortController().signal;

describe('the delete breaker', () => {
  it('lets a delete through while the ledger grants, holding nothing', async () => {
    const { breaker, published, lines, value, asked } = setup([true, true]);
    expect(await breaker.pass(removal('a'), signal)).toBe('granted');
    expect(await breaker.pass(removal('b'), signal)).toBe('granted');
    expect(asked).toEqual(['a', 'b']);
    expect(published).toEqual([]);
    expect(lines.filter((line) => line.level === 'warn')).toEqual([]);
    expect(await value('s3relay_worker_delete_breaker_trips_total')).toBe(0);
  });

  it('holds a refused delete in the held queue with the task, its reason and the time', async () => {
    const { breaker, published, value } = setup([false]);
    const task = removal('photos/cat.jpg');
    const before = Date.now();
    expect(await breaker.pass(task, signal)).toBe('held');
    expect(published).toHaveLength(1);
    const [held] = published;
    expect(held?.queue).toBe('p.held');
    expect(held?.messageId).toBe(task.id);
    expect(JSON.parse(held?.body.toString() ?? '')).toEqual(task);
    expect(held?.headers?.[TaskHeaders.heldCode]).toBe('RELAY_DELETE_LIMIT_REACHED');
    expect(held?.headers?.[TaskHeaders.heldReason]).toMatch(/^DELETE_LIMIT 2\/1m reached/);
    const heldAt = Date.parse(String(held?.headers?.[TaskHeaders.heldAt]));
    expect(heldAt).toBeGreaterThanOrEqual(before - 1000);
    expect(heldAt).toBeLessThanOrEqual(Date.now());
    expect(await value('s3relay_worker_deletes_held_total')).toBe(1);
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('warns once per trip, not once per held delete, and says when it closes again', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const { breaker, lines, value } = setup([true, false, false, false, true, false, true, false]);
    for (const key of ['a', 'b', 'c', 'd']) await breaker.pass(removal(key), signal);
    const warnings = () => lines.filter((line) => line.level === 'warn');
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]?.message).toBe('delete breaker tripped; holding backup deletes');
    expect(warnings()[0]?.meta).toMatchObject({
      code: 'RELAY_DELETE_LIMIT_REACHED',
      limit: '2/1m',
      heldQueue: 'p.held',
      firstHeld: { key: 'b' },
    });
    expect(breaker.isOpen).toBe(true);
    expect(await value('s3relay_worker_delete_breaker_open')).toBe(1);

    expect(await breaker.pass(removal('e'), signal)).toBe('granted');
    expect(breaker.isOpen).toBe(false);
    expect(await value('s3relay_worker_delete_breaker_open')).toBe(0);
    expect(lines.map((line) => line.message)).toContain('delete breaker closed; deleting again');

    // Near the limit the breaker flaps: a trip within the same window is not reported again.
    expect(await breaker.pass(removal('f'), signal)).toBe('held');
    expect(breaker.isOpen).toBe(true);
    expect(warnings()).toHaveLength(1);
    expect(await value('s3relay_worker_delete_breaker_trips_total')).toBe(1);

    // A window later (2/1m), it is a new trip.
    vi.advanceTimersByTime(60_000);
    expect(await breaker.pass(removal('g'), signal)).toBe('granted');
    expect(await breaker.pass(removal('h'), signal)).toBe('held');
    expect(warnings()).toHaveLength(2);
    expect(warnings()[1]?.meta).toMatchObject({ firstHeld: { key: 'h' } });
    expect(await value('s3relay_worker_delete_breaker_trips_total')).toBe(2);
    expect(await value('s3relay_worker_deletes_held_total')).toBe(5);
  });

  it('fails (so the task is retried, not acked) when the held copy is not confirmed', async () => {
    const { breaker, value } = setup([false], { publishFails: true });
    await expect(breaker.pass(removal('a'), signal)).rejects.toMatchObject({
      code: 'RELAY_AMQP_UNAVAILABLE',
    });
    expect(await value('s3relay_worker_deletes_held_total')).toBe(0);
  });
});
