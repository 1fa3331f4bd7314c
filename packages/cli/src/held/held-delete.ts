import type { Message } from 'amqplib';
import { TaskHeaders, parseTask, type Task } from '@s3relay/core';
import { DELIVERY_HEADERS, jsonSafe } from '../dlq/parked-task.js';

/** What `held list` shows of one held delete. */
export interface HeldDelete {
  readonly messageId: string | undefined;
  readonly task: Task | undefined;
  /** Why the body is not a valid task, when it is not. */
  readonly invalidReason: string | undefined;
  /** Why it was held: RELAY_DELETE_LIMIT_REACHED. */
  readonly code: string;
  readonly reason: string;
  readonly heldAt: string | undefined;
  /** Every header of the message, as JSON can show it. */
  readonly headers: Readonly<Record<string, unknown>>;
}

const asString = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : undefined;

/** Describes a message of `<prefix>.held`, as the worker's delete breaker wrote it. */
export function describeHeld(message: Message): HeldDelete {
  const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
  const parsed = parseTask(message.content);
  return {
    messageId: asString(message.properties.messageId),
    task: parsed.ok ? parsed.task : undefined,
    invalidReason: parsed.ok ? undefined : parsed.reason,
    code: asString(headers[TaskHeaders.heldCode]) ?? 'unknown',
    reason: asString(headers[TaskHeaders.heldReason]) ?? 'no reason given',
    heldAt: asString(headers[TaskHeaders.heldAt]),
    headers: Object.fromEntries(
      Object.entries(headers)
        .filter(([name]) => !DELIVERY_HEADERS.has(name))
        .map(([name, value]) => [name, jsonSafe(value)]),
    ),
  };
}

/** Filters of `held list`, `release` and `drop`: every condition given must hold. */
export interface HeldFilter {
  readonly ids?: readonly string[];
  readonly bucket?: string;
  /** Keys starting with this. */
  readonly prefix?: string;
  /** Bounds of the time it was held. */
  readonly since?: Date;
  readonly until?: Date;
}

export function matchesHeld(held: HeldDelete, filter: HeldFilter): boolean {
  if (filter.ids !== undefined && filter.ids.length > 0) {
    const id = held.messageId ?? held.task?.id;
    if (id === undefined || !filter.ids.includes(id)) return false;
  }
  if (filter.bucket !== undefined && held.task?.bucket !== filter.bucket) return false;
  if (filter.prefix !== undefined && !(held.task?.key.startsWith(filter.prefix) ?? false)) {
    return false;
  }
  if (filter.since !== undefined || filter.until !== undefined) {
    const heldAt = Date.parse(held.heldAt ?? '');
    if (Number.isNaN(heldAt)) return false;
    if (filter.since !== undefined && heldAt < filter.since.getTime()) return false;
    if (filter.until !== undefined && heldAt > filter.until.getTime()) return false;
  }
  return true;
}
