import type { ChannelModel } from 'amqplib';
import type { TopologyNames } from '@s3relay/core/amqp';
import { TaskHeaders } from '@s3relay/core';
import { queueAction, queueLister, type OperatorQueue } from '../operator-queue.js';
import {
  describeParked,
  matchesFilter,
  type ParkedFilter,
  type ParkedTask,
} from './parked-task.js';

const DLQ: OperatorQueue<ParkedTask, ParkedFilter> = {
  queue: (names) => names.dlq,
  describe: describeParked,
  matches: matchesFilter,
};

/** The parked tasks matching a filter, up to a limit, leaving the DLQ as it was. */
export const listDlq = queueLister(DLQ);

/**
 * Moves matching parked tasks back to the tasks queue with the attempt count reset, in DLQ order;
 * the others stay, in their order. A dry run moves nothing.
 */
export const replayDlq = queueAction(DLQ, (parked, message, names) => ({
  queue: names.tasks,
  body: message.content,
  messageId: parked.messageId ?? parked.task?.id ?? 'unknown',
  // No x-s3relay-attempt: a replayed task starts again at its first attempt.
  headers: {
    [TaskHeaders.replayedAt]: new Date().toISOString(),
    [TaskHeaders.replayedErrorCode]: parked.errorCode,
  },
}));

/**
 * Deletes the matching parked tasks for good, keeping the others in their order. A dry run
 * deletes nothing.
 */
export const dropDlq = queueAction(DLQ, () => 'drop');

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
