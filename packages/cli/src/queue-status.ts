import type { Channel, ChannelModel } from 'amqplib';
import type { TopologyNames } from '@s3relay/core/amqp';

export interface QueueStatus {
  readonly role: 'tasks' | 'retry' | 'dlq' | 'held';
  readonly queue: string;
  /**
   * False when the queue does not exist (a retry tier of other `RETRY_DELAYS` than the
   * services'); its counts are then 0. Nothing here creates a queue.
   */
  readonly exists: boolean;
  /** Ready messages (a quorum queue does not count the ones delivered and not yet acked). */
  readonly messages: number;
  readonly consumers: number;
}

/**
 * Depth and consumers of every queue of the topology: tasks, retry tiers, DLQ, held deletes.
 * Passive declarations only (`checkQueue`): a queue that does not exist is reported so, not
 * created.
 */
export async function queueStatuses(
  connection: ChannelModel,
  names: TopologyNames,
): Promise<QueueStatus[]> {
  const targets: Pick<QueueStatus, 'role' | 'queue'>[] = [
    { role: 'tasks', queue: names.tasks },
    ...names.retryTiers.map((tier) => ({ role: 'retry' as const, queue: tier.queue })),
    { role: 'dlq', queue: names.dlq },
    { role: 'held', queue: names.held },
  ];
  let channel: Channel | undefined;
  try {
    const statuses: QueueStatus[] = [];
    for (const target of targets) {
      channel ??= await openChannel(connection);
      try {
        const { messageCount, consumerCount } = await channel.checkQueue(target.queue);
        statuses.push({
          ...target,
          exists: true,
          messages: messageCount,
          consumers: consumerCount,
        });
      } catch (err) {
        if ((err as { code?: unknown }).code !== 404) throw err;
        // The broker closed the channel with the 404.
        channel = undefined;
        statuses.push({ ...target, exists: false, messages: 0, consumers: 0 });
      }
    }
    return statuses;
  } finally {
    await channel?.close().catch(() => undefined);
  }
}

async function openChannel(connection: ChannelModel): Promise<Channel> {
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  return channel;
}
