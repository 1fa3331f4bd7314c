import { Command } from 'commander';
import { withBroker } from '../broker-session.js';
import { addBrokerOptions, brokerOverrides, type BrokerFlags } from '../common-options.js';
import { configFromFlags } from '../config-from-flags.js';
import { table, type Output } from '../output.js';

export interface QueueStatus {
  readonly role: string;
  readonly queue: string;
  readonly messages: number;
  readonly consumers: number;
}

/** `s3relay status`: queue depths and consumers; exit 3 when the broker is unreachable. */
export function statusCommand(output: () => Output, env: NodeJS.ProcessEnv): Command {
  return addBrokerOptions(
    new Command('status').description('tasks queue depth, consumers, retry tiers and DLQ depth'),
  ).action(async (flags: BrokerFlags) => {
    const out = output();
    const config = configFromFlags(env, brokerOverrides(flags));
    const queues = await withBroker(config, async ({ broker, connection }) => {
      const channel = await connection.createChannel();
      try {
        const targets = [
          { role: 'tasks', queue: broker.names.tasks },
          ...broker.names.retryTiers.map((tier) => ({ role: 'retry', queue: tier.queue })),
          { role: 'dlq', queue: broker.names.dlq },
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
    });
    out.result({ broker: 'reachable', queues });
    out.line(
      table(
        ['ROLE', 'QUEUE', 'MESSAGES', 'CONSUMERS'],
        queues.map((q) => [q.role, q.queue, String(q.messages), String(q.consumers)]),
      ),
    );
  });
}
