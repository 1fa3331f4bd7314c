import type { Channel, ChannelModel, GetMessage } from 'amqplib';
import type { Publisher, TopologyNames } from '@s3relay/core/amqp';
import {
  describeParked,
  matchesFilter,
  type ParkedFilter,
  type ParkedTask,
} from './parked-task.js';

/**
 * Walks the DLQ once with `basic.get`, keeping every message unacknowledged, and hands each to
 * `visit`. Messages `visit` does not ack go back when the channel closes at the end — quorum
 * queues put returned messages back in their original order, so looking loses and reorders
 * nothing. Stops early when `visit` returns 'stop'.
 */
async function walkDlq(
  connection: ChannelModel,
  names: TopologyNames,
  visit: (message: GetMessage, channel: Channel) => Promise<'continue' | 'stop'>,
): Promise<void> {
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  try {
    for (;;) {
      const message = await channel.get(names.dlq, { noAck: false });
      if (message === false) return;
      if ((await visit(message, channel)) === 'stop') return;
    }
  } finally {
    await channel.close().catch(() => undefined);
  }
}

export interface ListResult {
  readonly total: number;
  readonly scanned: number;
  readonly entries: readonly ParkedTask[];
}

/** The parked tasks matching `filter`, up to `limit`, without changing the DLQ. */
export async function listDlq(
  connection: ChannelModel,
  names: TopologyNames,
  filter: ParkedFilter & { readonly limit: number },
  onProgress?: (scanned: number) => void,
): Promise<ListResult> {
  const entries: ParkedTask[] = [];
  let scanned = 0;
  const check = await connection.createChannel();
  const { messageCount: total } = await check.checkQueue(names.dlq);
  await check.close();
  await walkDlq(connection, names, async (message) => {
    scanned += 1;
    onProgress?.(scanned);
    const parked = describeParked(message);
    if (matchesFilter(parked, filter)) entries.push(parked);
    return Promise.resolve(entries.length >= filter.limit ? 'stop' : 'continue');
  });
  return { total, scanned, entries };
}

export interface ReplayResult {
  readonly scanned: number;
  readonly replayed: readonly ParkedTask[];
  readonly dryRun: boolean;
}

/**
 * Moves matching parked tasks back to the tasks queue with the attempt count reset. Each is
 * acknowledged on the DLQ only after its republish is confirmed, so a replay interrupted at any
 * point loses nothing (at worst a task is in both queues, which reconciling makes harmless).
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
  await walkDlq(connection, names, async (message, channel) => {
    scanned += 1;
    const parked = describeParked(message);
    if (matchesFilter(parked, options)) {
      if (!options.dryRun) {
        await publisher.publish([
          {
            queue: names.tasks,
            body: message.content,
            messageId: parked.messageId ?? parked.task?.id ?? 'unknown',
            headers: {
              'x-s3relay-attempt': 0,
              'x-s3relay-replayed-at': new Date().toISOString(),
              'x-s3relay-replayed-error-code': parked.errorCode,
            },
          },
        ]);
        channel.ack(message);
      }
      replayed.push(parked);
    }
    onProgress?.(scanned, replayed.length);
    return 'continue';
  });
  return { scanned, replayed, dryRun: options.dryRun };
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
