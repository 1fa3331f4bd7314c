import type { ChannelModel } from 'amqplib';
import type { TopologyNames } from '@s3relay/core/amqp';

export interface QueueStatus {
  readonly role: 'tasks' | 'retry' | 'dlq' | 'held';
  readonly queue: string;
  /** Ready messages (a quorum queue does not count the ones delivered and not yet acked). */
  readonly messages: number;
  readonly consumers: number;
}

/** Depth and consumers of every queue of the topology: tasks, retry tiers, DLQ, held deletes. */
export async function queueStatuses(
  connection: ChannelModel,
  names: TopologyNames,
): Promise<QueueStatus[]> {
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  try {
    const targets: Pick<QueueStatus, 'role' | 'queue'>[] = [
      { role: 'tasks', queue: names.tasks },
      ...names.retryTiers.map((tier) => ({ role: 'retry' as const, queue: tier.queue })),
      { role: 'dlq', queue: names.dlq },
      { role: 'held', queue: names.held },
    ];
    const statuses: QueueStatus[] = [];
    for (const target of targets) {
      const { messageCount, consumerCount } = await channel.checkQueue(target.queue);
      statuses.push({ ...target, messages: messageCount, consumers: consumerCount });
    }
    return statuses;
  } finally {
    await channel.close().catch(() => undefined);
  }
}
