import type { ChannelModel, GetMessage } from 'amqplib';
import type { OutgoingMessage, Publisher, TopologyNames } from '@s3relay/core/amqp';
import { TaskHeaders } from '@s3relay/core';
import {
  describeParked,
  matchesFilter,
  type ParkedFilter,
  type ParkedTask,
} from './parked-task.js';
import { walkQueue } from './queue-walk.js';

/** Where a walked parked task goes (see {@link walkQueue}). */
type Route = (parked: ParkedTask, message: GetMessage) => OutgoingMessage | 'keep' | 'drop';

/** Walks the DLQ once, describing each message for `route`. */
function walkDlq(
  connection: ChannelModel,
  names: TopologyNames,
  publisher: Publisher,
  route: Route,
): Promise<number> {
  return walkQueue(connection, names.dlq, publisher, (message) =>
    route(describeParked(message), message),
  );
}

export interface ListResult {
  readonly total: number;
  readonly scanned: number;
  readonly entries: readonly ParkedTask[];
}

/**
 * The parked tasks matching `filter`, up to `limit`, leaving the DLQ as it was (same messages,
 * same order). It walks the whole DLQ whatever the limit: stopping early would move the messages
 * seen so far behind the others.
 */
export async function listDlq(
  connection: ChannelModel,
  names: TopologyNames,
  publisher: Publisher,
  filter: ParkedFilter & { readonly limit: number },
  onProgress?: (scanned: number) => void,
): Promise<ListResult> {
  const entries: ParkedTask[] = [];
  let scanned = 0;
  const depth = await walkDlq(connection, names, publisher, (parked) => {
    scanned += 1;
    if (entries.length < filter.limit && matchesFilter(parked, filter)) entries.push(parked);
    onProgress?.(scanned);
    return 'keep';
  });
  return { total: depth, scanned, entries };
}

export interface ReplayResult {
  readonly scanned: number;
  readonly replayed: readonly ParkedTask[];
  readonly dryRun: boolean;
}

/**
 * Moves matching parked tasks back to the tasks queue with the attempt count reset, in DLQ order;
 * the others stay, in their order. A dry run moves nothing.
 */
export async function replayDlq(
  connection: ChannelModel,
  names: TopologyNames,
  publisher: Publisher,
  options: ParkedFilter & { readonly dryRun: boolean },
  onProgress?: (scanned: number, replayed: number) => void,
): Promise<ReplayResult> {
  const replayed: ParkedTask[] = [];
  let scanned = 0;
  await walkDlq(connection, names, publisher, (parked, message) => {
    scanned += 1;
    const matches = matchesFilter(parked, options);
    if (matches) replayed.push(parked);
    onProgress?.(scanned, replayed.length);
    if (!matches || options.dryRun) return 'keep';
    return {
      queue: names.tasks,
      body: message.content,
      messageId: parked.messageId ?? parked.task?.id ?? 'unknown',
      // No x-s3relay-attempt: a replayed task starts again at its first attempt.
      headers: {
        [TaskHeaders.replayedAt]: new Date().toISOString(),
        [TaskHeaders.replayedErrorCode]: parked.errorCode,
      },
    };
  });
  return { scanned, replayed, dryRun: options.dryRun };
}

export interface DropResult {
  readonly scanned: number;
  readonly dropped: readonly ParkedTask[];
  readonly dryRun: boolean;
}

/**
 * Deletes the matching parked tasks for good, keeping the others in their order. A dry run
 * deletes nothing.
 */
export async function dropDlq(
  connection: ChannelModel,
  names: TopologyNames,
  publisher: Publisher,
  options: ParkedFilter & { readonly dryRun: boolean },
  onProgress?: (scanned: number, dropped: number) => void,
): Promise<DropResult> {
  const dropped: ParkedTask[] = [];
  let scanned = 0;
  await walkDlq(connection, names, publisher, (parked) => {
    scanned += 1;
    const matches = matchesFilter(parked, options);
    if (matches) dropped.push(parked);
    onProgress?.(scanned, dropped.length);
    return matches && !options.dryRun ? 'drop' : 'keep';
  });
  return { scanned, dropped, dryRun: options.dryRun };
}

/** Deletes every parked task; returns how many. */
export async function purgeDlq(connection: ChannelModel, names: TopologyNames): Promise<number> {
  const channel = await connection.createChannel();
  try {
    const { messageCount } = await channel.purgeQueue(names.dlq);
    return messageCount;
  } finally {
    await channel.close().catch(() => undefined);
  }
}
