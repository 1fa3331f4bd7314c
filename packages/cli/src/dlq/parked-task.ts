import type { Message } from 'amqplib';
import { TaskHeaders, parseTask, type Task } from '@s3relay/core';

/** What `dlq list` shows of one parked message. */
export interface ParkedTask {
  readonly messageId: string | undefined;
  readonly task: Task | undefined;
  /** Why the body is not a valid task, when it is not. */
  readonly invalidReason: string | undefined;
  readonly errorCode: string;
  readonly error: string;
  /** The worker's attempts; unknown for a task the broker parked (delivery limit). */
  readonly attempts: number | undefined;
  readonly firstFailedAt: string | undefined;
  readonly lastFailedAt: string | undefined;
  /** Every header of the message, as JSON can show it. */
  readonly headers: Readonly<Record<string, unknown>>;
  /** The body (its first 4 KiB), when it is not a valid task. */
  readonly body: string | undefined;
}

/**
 * Marks the copies one walk of the DLQ puts back at its tail. Meeting one means the walk has come
 * round to its own copies, because someone else took messages from the DLQ meanwhile.
 */
export const WALK_HEADER = 'x-s3relay-dlq-walk';
/**
 * Headers that describe a delivery from the DLQ itself, not the parked task: not shown, and not
 * copied when a walk puts a message back.
 */
export const DELIVERY_HEADERS: ReadonlySet<string> = new Set(['x-delivery-count', WALK_HEADER]);

/** How much of an invalid body a listing shows. */
const BODY_PREVIEW_BYTES = 4096;

type Headers = Record<string, unknown>;

const asString = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : undefined;

const asNumber = (value: unknown): number | undefined => {
  const number = typeof value === 'number' ? value : Number(asString(value));
  return Number.isFinite(number) ? number : undefined;
};

/**
 * Describes a message from the DLQ. Workers park tasks with `x-s3relay-*` headers; the broker
 * parks a task that hit the delivery limit (a worker crashed on it again and again) without
 * them, which is recognisable by its `x-death` reason and reported as RELAY_TASK_DELIVERY_LIMIT.
 */
export function describeParked(message: Message): ParkedTask {
  const headers = (message.properties.headers ?? {}) as Headers;
  const parsed = parseTask(message.content);
  const deaths = Array.isArray(headers['x-death']) ? (headers['x-death'] as Headers[]) : [];
  const lastDeath = deaths[0];
  const brokerReason = asString(headers['x-first-death-reason']) ?? asString(lastDeath?.reason);
  const ownCode = asString(headers[TaskHeaders.errorCode]);
  const deathTime = lastDeath?.time as { value?: number } | Date | undefined;
  const deathIso =
    deathTime instanceof Date
      ? deathTime.toISOString()
      : typeof deathTime?.value === 'number'
        ? new Date(deathTime.value * 1000).toISOString()
        : undefined;
  return {
    messageId: asString(message.properties.messageId),
    task: parsed.ok ? parsed.task : undefined,
    invalidReason: parsed.ok ? undefined : parsed.reason,
    errorCode:
      ownCode ??
      (brokerReason === 'delivery_limit'
        ? 'RELAY_TASK_DELIVERY_LIMIT'
        : `broker:${brokerReason ?? 'unknown'}`),
    error:
      asString(headers[TaskHeaders.error]) ??
      (brokerReason === 'delivery_limit'
        ? 'delivered too many times without an ack (a worker crashed or was killed on it each time)'
        : 'dead-lettered by the broker'),
    // Not `x-delivery-count`: in the DLQ it counts the DLQ's own deliveries (every listing).
    attempts: asNumber(headers[TaskHeaders.attempts]),
    firstFailedAt: asString(headers[TaskHeaders.firstFailedAt]) ?? deathIso,
    lastFailedAt: asString(headers[TaskHeaders.lastFailedAt]) ?? deathIso,
    headers: Object.fromEntries(
      Object.entries(headers)
        .filter(([name]) => !DELIVERY_HEADERS.has(name))
        .map(([name, value]) => [name, jsonSafe(value)]),
    ),
    body: parsed.ok ? undefined : message.content.subarray(0, BODY_PREVIEW_BYTES).toString('utf8'),
  };
}

/**
 * A header value as JSON shows it: AMQP byte strings as text, timestamps (amqplib decodes them
 * as `{ '!': 'timestamp', value: seconds }`) as ISO times, 64-bit integers as numbers or text.
 */
export function jsonSafe(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint')
    return Number.isSafeInteger(Number(value)) ? Number(value) : String(value);
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value !== null && typeof value === 'object') {
    const typed = value as { '!'?: unknown; value?: unknown };
    if (typed['!'] === 'timestamp' && typeof typed.value === 'number') {
      return new Date(typed.value * 1000).toISOString();
    }
    return Object.fromEntries(
      Object.entries(value).map(([name, inner]) => [name, jsonSafe(inner)]),
    );
  }
  return value;
}

/** Filters of `dlq list`, `replay` and `drop`: every condition given must hold. */
export interface ParkedFilter {
  readonly ids?: readonly string[];
  readonly bucket?: string;
  readonly errorCode?: string;
  /** Bounds of the last failure; a task without a failure time matches neither. */
  readonly since?: Date;
  readonly until?: Date;
}

export function matchesFilter(parked: ParkedTask, filter: ParkedFilter): boolean {
  if (filter.ids !== undefined && filter.ids.length > 0) {
    const id = parked.messageId ?? parked.task?.id;
    if (id === undefined || !filter.ids.includes(id)) return false;
  }
  if (filter.bucket !== undefined && parked.task?.bucket !== filter.bucket) return false;
  if (filter.errorCode !== undefined && parked.errorCode !== filter.errorCode) return false;
  if (filter.since !== undefined || filter.until !== undefined) {
    const failedAt = Date.parse(parked.lastFailedAt ?? '');
    if (Number.isNaN(failedAt)) return false;
    if (filter.since !== undefined && failedAt < filter.since.getTime()) return false;
    if (filter.until !== undefined && failedAt > filter.until.getTime()) return false;
  }
  return true;
}
