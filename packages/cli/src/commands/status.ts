import { Command } from 'commander';
import { withBroker } from '../broker-session.js';
import { addBrokerOptions, brokerOverrides, type BrokerFlags } from '../common-options.js';
import { configFromFlags } from '../config-from-flags.js';
import { table, type Output } from '../output.js';
import { queueStatuses } from '../queue-status.js';

/** `s3relay status`: queue depths and consumers; exit 3 when the broker is unreachable. */
export function statusCommand(output: () => Output, env: NodeJS.ProcessEnv): Command {
  return addBrokerOptions(
    new Command('status').description(
      'tasks queue depth, consumers, retry tiers, DLQ depth and held deletes',
    ),
  ).action(async (flags: BrokerFlags) => {
    const out = output();
    const config = configFromFlags(env, brokerOverrides(flags));
    const queues = await withBroker(config, ({ broker, connection }) =>
      queueStatuses(connection, broker.names),
    );
    out.result({ broker: 'reachable', queues });
    out.line(
      table(
        ['ROLE', 'QUEUE', 'MESSAGES', 'CONSUMERS'],
        queues.map((q) => [q.role, q.queue, String(q.messages), String(q.consumers)]),
      ),
    );
    const held = queues.find((q) => q.role === 'held')?.messages ?? 0;
    if (held > 0) {
      out.line(
        `${held} backup deletes held (DELETE_LIMIT reached): see them with \`s3relay held list\`, then release or drop them`,
      );
    }
  });
}
