import type { Channel } from 'amqplib';
import { PermanentError } from '../errors.js';
import { formatDuration } from '../units.js';

/** What the topology depends on. */
export interface TopologyOptions {
  readonly prefix: string;
  readonly retryDelaysMs: readonly number[];
  readonly deliveryLimit: number;
}

export interface RetryTier {
  readonly delayMs: number;
  readonly queue: string;
}

/** The names of every queue s3relay owns under one prefix. */
export interface TopologyNames {
  readonly tasks: string;
  readonly dlq: string;
  readonly retryTiers: readonly RetryTier[];
}

export function topologyNames(
  options: Pick<TopologyOptions, 'prefix' | 'retryDelaysMs'>,
): TopologyNames {
  const tiers = [...new Set(options.retryDelaysMs)].map((delayMs) => ({
    delayMs,
    queue: `${options.prefix}.retry.${formatDuration(delayMs)}`,
  }));
  return { tasks: `${options.prefix}.tasks`, dlq: `${options.prefix}.dlq`, retryTiers: tiers };
}

/**
 * Declares the whole broker topology; idempotent, run on every (re)connect by every process.
 *
 * - `<prefix>.tasks`: quorum queue with an explicit delivery limit (RabbitMQ 3.10 has none by
 *   default), dead-lettering straight to the DLQ so a task that crashes its worker every time is
 *   parked instead of looping. The DLQ is terminal: pointing the delivery-limit dead-letter at the
 *   retry loop can drop or strand messages on 3.10.
 * - `<prefix>.retry.<delay>`: one quorum queue per delay tier whose message TTL dead-letters back
 *   to the tasks queue.
 * - `<prefix>.dlq`: the parking lot operators read, replay and purge.
 *
 * Dead-lettering is `at-least-once` (RabbitMQ ≥ 3.10, needs `reject-publish` overflow), so a
 * message is removed from its queue only once the target queue has it.
 *
 * Thrown as {@link PermanentError} `RELAY_AMQP_TOPOLOGY_MISMATCH` when a queue already exists with
 * other arguments; the channel is closed by the broker in that case.
 */
export async function declareTopology(
  channel: Channel,
  options: TopologyOptions,
): Promise<TopologyNames> {
  const names = topologyNames(options);
  const atLeastOnce = { 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' };
  const queues: [string, Record<string, unknown>][] = [
    [names.dlq, { 'x-queue-type': 'quorum' }],
    [
      names.tasks,
      {
        'x-queue-type': 'quorum',
        'x-delivery-limit': options.deliveryLimit,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': names.dlq,
        ...atLeastOnce,
      },
    ],
    ...names.retryTiers.map((tier): [string, Record<string, unknown>] => [
      tier.queue,
      {
        'x-queue-type': 'quorum',
        'x-message-ttl': tier.delayMs,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': names.tasks,
        ...atLeastOnce,
      },
    ]),
  ];
  for (const [queue, args] of queues) {
    try {
      await channel.assertQueue(queue, { durable: true, arguments: args });
    } catch (err) {
      if (isPreconditionFailed(err)) {
        throw new PermanentError(
          'RELAY_AMQP_TOPOLOGY_MISMATCH',
          `queue "${queue}" already exists with other arguments (${describe(args)}); ` +
            'restore the settings it was declared with (AMQP_DELIVERY_LIMIT, RETRY_DELAYS) or delete the queue ' +
            'after draining it, or choose another AMQP_PREFIX',
          { cause: err, context: { queue } },
        );
      }
      throw err;
    }
  }
  return names;
}

function isPreconditionFailed(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 406;
}

function describe(args: Record<string, unknown>): string {
  return Object.entries(args)
    .map(([name, value]) => `${name}=${String(value)}`)
    .join(', ');
}

/** Deletes every queue of a topology (tests and `AMQP_PREFIX` cleanup); ignores missing ones. */
export async function deleteTopology(channel: Channel, names: TopologyNames): Promise<void> {
  for (const queue of [names.tasks, names.dlq, ...names.retryTiers.map((tier) => tier.queue)]) {
    await channel.deleteQueue(queue);
  }
}
