import { Command } from 'commander';
import { redactUrls } from '@s3relay/core/amqp';
import { withBroker } from '../broker-session.js';
import { addBrokerOptions, brokerOverrides, type BrokerFlags } from '../common-options.js';
import { configFromFlags } from '../config-from-flags.js';
import { table, type Output } from '../output.js';
import { queueStatuses } from '../queue-status.js';

/**
 * `s3relay status`: queue depths and consumers under the prefix it names; exit 1 when there are
 * no s3relay queues under it, 3 when the broker is unreachable. It creates nothing.
 */
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
    const { prefix } = config.amqp;
    out.result({ broker: 'reachable', prefix, queues });
    out.line(`queues under prefix "${prefix}" at ${redactUrls(config.amqp.urls)}:`);
    out.line(
      table(
        ['ROLE', 'QUEUE', 'MESSAGES', 'CONSUMERS'],
        queues.map((q) =>
          q.exists
            ? [q.role, q.queue, String(q.messages), String(q.consumers)]
            : [q.role, q.queue, 'does not exist', '-'],
        ),
      ),
    );
    const missing = queues.filter((q) => !q.exists && q.role !== 'held');
    if (missing.length > 0) {
      out.warn(
        `${missing.map((q) => q.queue).join(', ')} not found: RETRY_DELAYS (or AMQP_PREFIX) differ from the services'`,
      );
    }
    const held = queues.find((q) => q.role === 'held');
    if (held?.exists === false) {
      out.warn(`${held.queue} not found: the services are older than the delete breaker`);
    } else if ((held?.messages ?? 0) > 0) {
      out.line(
        `${held?.messages} backup deletes held (DELETE_LIMIT reached): see them with \`s3relay held list\`, then release or drop them`,
      );
    }
  });
}
