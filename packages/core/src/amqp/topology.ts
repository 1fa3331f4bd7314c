import type { Channel, ChannelModel } from 'amqplib';
import { PermanentError } from '../errors.js';
import { formatDuration } from '../units.js';

/** What the topology depends on. */
export interface TopologyOptions {
  readonly prefix: string;
  readonly retryDelaysMs: readonly number[];
  readonly deliveryLimit: number;
  /**
   * `x-quorum-initial-group-size` of every queue: on how many cluster nodes a new queue is
   * replicated (the broker uses all nodes when there are fewer). It applies to queues being
   * created; a queue that exists keeps its members (see {@link declareTopology}).
   */
  readonly quorumGroupSize: number;
}

/** A queue that already existed with another initial group size, which was kept. */
export interface KeptGroupSize {
  readonly queue: string;
  /** Its `x-quorum-initial-group-size`; undefined when it was declared without one. */
  readonly groupSize: number | undefined;
}

const GROUP_SIZE = 'x-quorum-initial-group-size';

export interface RetryTier {
  readonly delayMs: number;
  readonly queue: string;
}

/** The names of every queue s3relay owns under one prefix. */
export interface TopologyNames {
  readonly tasks: string;
  readonly dlq: string;
  /** Backup deletes the delete breaker held for an operator (`s3relay held`). */
  readonly held: string;
  readonly retryTiers: readonly RetryTier[];
}

export function topologyNames(
  options: Pick<TopologyOptions, 'prefix' | 'retryDelaysMs'>,
): TopologyNames {
  const tiers = [...new Set(options.retryDelaysMs)].map((delayMs) => ({
    delayMs,
    queue: `${options.prefix}.retry.${formatDuration(delayMs)}`,
  }));
  return {
    tasks: `${options.prefix}.tasks`,
    dlq: `${options.prefix}.dlq`,
    held: `${options.prefix}.held`,
    retryTiers: tiers,
  };
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
 * - `<prefix>.held`: backup deletes beyond DELETE_LIMIT, which operators release or drop; like
 *   the DLQ, nothing consumes it.
 *
 * Dead-lettering is `at-least-once` (RabbitMQ ≥ 3.10, needs `reject-publish` overflow), so a
 * message is removed from its queue only once the target queue has it.
 *
 * Every queue is declared with `x-quorum-initial-group-size`. RabbitMQ checks that argument like
 * the others on redeclaration (a different or missing value is a 406), although it only matters
 * when the queue is created. So a queue that exists with another group size (or none: declared
 * by an s3relay before AMQP_QUORUM_GROUP_SIZE) is declared again with its own, and reported
 * through `onKept`: its replicas are changed with `rabbitmq-queues grow`/`shrink`, not here.
 *
 * Opens its own channels on `connection` and closes them. Thrown as {@link PermanentError}
 * `RELAY_AMQP_TOPOLOGY_MISMATCH` when a queue already exists with other arguments.
 */
export async function declareTopology(
  connection: Pick<ChannelModel, 'createChannel'>,
  options: TopologyOptions,
  onKept: (kept: KeptGroupSize) => void = () => undefined,
): Promise<TopologyNames> {
  const names = topologyNames(options);
  const atLeastOnce = { 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' };
  const quorum = { 'x-queue-type': 'quorum', [GROUP_SIZE]: options.quorumGroupSize };
  const queues: [string, Record<string, unknown>][] = [
    [names.dlq, quorum],
    [names.held, quorum],
    [
      names.tasks,
      {
        ...quorum,
        'x-delivery-limit': options.deliveryLimit,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': names.dlq,
        ...atLeastOnce,
      },
    ],
    ...names.retryTiers.map((tier): [string, Record<string, unknown>] => [
      tier.queue,
      {
        ...quorum,
        'x-message-ttl': tier.delayMs,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': names.tasks,
        ...atLeastOnce,
      },
    ]),
  ];
  const channels = new ChannelSource(connection);
  try {
    for (const [queue, args] of queues) {
      try {
        await channels.assertQueue(queue, args);
      } catch (err) {
        if (!isPreconditionFailed(err)) throw err;
        const kept = existingGroupSize(err);
        if (kept === 'other') throw mismatch(queue, args, err);
        const own = { ...args };
        if (kept === undefined) delete own[GROUP_SIZE];
        else own[GROUP_SIZE] = kept;
        try {
          await channels.assertQueue(queue, own);
        } catch (again) {
          throw isPreconditionFailed(again) ? mismatch(queue, own, again) : again;
        }
        onKept({ queue, groupSize: kept });
      }
    }
  } finally {
    await channels.close();
  }
  return names;
}

/** One channel at a time: a 406 closes the channel it happened on, so the next gets a new one. */
class ChannelSource {
  readonly #connection: Pick<ChannelModel, 'createChannel'>;
  #channel: Channel | undefined;

  constructor(connection: Pick<ChannelModel, 'createChannel'>) {
    this.#connection = connection;
  }

  async assertQueue(queue: string, args: Record<string, unknown>): Promise<void> {
    if (this.#channel === undefined) {
      const channel = await this.#connection.createChannel();
      channel.on('error', () => undefined);
      channel.on('close', () => {
        if (this.#channel === channel) this.#channel = undefined;
      });
      this.#channel = channel;
    }
    await this.#channel.assertQueue(queue, { durable: true, arguments: args });
  }

  async close(): Promise<void> {
    const channel = this.#channel;
    this.#channel = undefined;
    await channel?.close().catch(() => undefined);
  }
}

/**
 * From a 406 about `x-quorum-initial-group-size`, the existing queue's value (undefined: none);
 * `'other'` for a 406 about another argument. RabbitMQ reports the first inequivalent argument, in the
 * words of `rabbit_misc:assert_args_equivalence`: "… received '3' but current is none" or "… but
 * current is the value '1' of type 'long'"; an error about another argument comes with the next
 * declaration.
 */
function existingGroupSize(err: unknown): number | undefined | 'other' {
  const match = new RegExp(
    `inequivalent arg '${GROUP_SIZE}'.* but current is (?:none|(?:the value )?'(\\d+)')`,
  ).exec((err as Error).message);
  if (match === null) return 'other';
  return match[1] === undefined ? undefined : Number(match[1]);
}

function mismatch(queue: string, args: Record<string, unknown>, cause: unknown): PermanentError {
  return new PermanentError(
    'RELAY_AMQP_TOPOLOGY_MISMATCH',
    `queue "${queue}" already exists with other arguments (${describe(args)}); ` +
      'restore the settings it was declared with (AMQP_DELIVERY_LIMIT, RETRY_DELAYS) or delete the queue ' +
      'after draining it, or choose another AMQP_PREFIX',
    { cause, context: { queue } },
  );
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
  const queues = [
    names.tasks,
    names.dlq,
    names.held,
    ...names.retryTiers.map((tier) => tier.queue),
  ];
  for (const queue of queues) {
    await channel.deleteQueue(queue);
  }
}
