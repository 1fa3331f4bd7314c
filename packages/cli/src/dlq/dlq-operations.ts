import { randomUUID } from 'node:crypto';
import type { ChannelModel, GetMessage } from 'amqplib';
import type { OutgoingMessage, Publisher, TopologyNames } from '@s3relay/core/amqp';
import { TaskHeaders } from '@s3relay/core';
import {
  DELIVERY_HEADERS,
  WALK_HEADER,
  describeParked,
  matchesFilter,
  type ParkedFilter,
  type ParkedTask,
} from './parked-task.js';

/**
 * Messages taken per round: got one after another, then republished together, then acked.
 * A `basic.get` that follows an ack or a publish on a quorum queue waits tens of milliseconds
 * (RabbitMQ 3.10), so interleaving them per message is 40 times slower than rounds.
 */
const WALK_BATCH = 500;

/**
 * Where a walked message goes: back to the DLQ's tail (`keep`), nowhere (`drop`), or this
 * message instead.
 */
type Route = (parked: ParkedTask, message: GetMessage) => OutgoingMessage | 'keep' | 'drop';

/**
 * Walks the DLQ once from head to tail. Each message is republished — to where `route` says, or
 * to the DLQ's own tail — and acked only once its copy is confirmed, so an interrupted walk loses
 * nothing (at worst a message is in two places, which reconciling makes harmless). A dropped
 * message is acked without a copy.
 *
 * Messages are kept by republishing rather than by leaving them unacked: RabbitMQ 3.10 quorum
 * queues put returned messages into a returns queue served first, in no particular order
 * (rabbitmq/rabbitmq-server#6804), while a full walk that re-appends every kept message leaves
 * them in their original order. Only the messages present at the start
 * are visited, so a replay whose tasks are parked again while it runs still ends. Returns how many
 * messages the DLQ held at the start.
 */
async function walkDlq(
  connection: ChannelModel,
  names: TopologyNames,
  publisher: Publisher,
  route: Route,
): Promise<number> {
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  const walk = randomUUID();
  try {
    const { messageCount: depth } = await channel.checkQueue(names.dlq);
    let left = depth;
    let more = true;
    while (more && left > 0) {
      const batch: GetMessage[] = [];
      while (batch.length < Math.min(WALK_BATCH, left)) {
        const message = await channel.get(names.dlq, { noAck: false });
        if (message === false || message.properties.headers?.[WALK_HEADER] === walk) {
          // Empty, or the first of our own copies: returned to the head, where it belongs.
          if (message !== false) channel.nack(message, false, true);
          more = false;
          break;
        }
        batch.push(message);
      }
      left -= batch.length;
      if (batch.length === 0) break;
      const copies: OutgoingMessage[] = [];
      for (const message of batch) {
        const parked = describeParked(message);
        const destination = route(parked, message);
        if (destination === 'keep') copies.push(copyToTail(message, parked, names, walk));
        else if (destination !== 'drop') copies.push(destination);
      }
      await publisher.publish(copies);
      // One ack for the whole batch (every delivery of this channel up to its last): a quorum
      // queue ignores most of a run of single acks when the channel closes right after them
      // (rabbitmq/rabbitmq-server#10327), which would leave replayed tasks in the DLQ as well.
      channel.ack(batch[batch.length - 1] as GetMessage, true);
    }
    return depth;
  } finally {
    await channel.close().catch(() => undefined);
  }
}

function copyToTail(
  message: GetMessage,
  parked: ParkedTask,
  names: TopologyNames,
  walk: string,
): OutgoingMessage {
  const headers = Object.entries(message.properties.headers ?? {});
  return {
    queue: names.dlq,
    body: message.content,
    messageId: parked.messageId ?? parked.task?.id ?? '',
    headers: {
      ...Object.fromEntries(headers.filter(([name]) => !DELIVERY_HEADERS.has(name))),
      [WALK_HEADER]: walk,
    },
  };
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
