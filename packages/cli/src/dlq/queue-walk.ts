import { randomUUID } from 'node:crypto';
import type { ChannelModel, GetMessage } from 'amqplib';
import { parseTask } from '@s3relay/core';
import type { OutgoingMessage, Publisher } from '@s3relay/core/amqp';
import { DELIVERY_HEADERS, WALK_HEADER } from './parked-task.js';

/**
 * Messages taken per round: got one after another, then republished together, then acked.
 * A `basic.get` that follows an ack or a publish on a quorum queue waits tens of milliseconds
 * (RabbitMQ 3.10), so interleaving them per message is 40 times slower than rounds.
 */
const WALK_BATCH = 500;

/**
 * Where a walked message goes: back to the queue's tail (`keep`), nowhere (`drop`), or this
 * message instead.
 */
export type WalkRoute = (message: GetMessage) => OutgoingMessage | 'keep' | 'drop';

/**
 * Walks a queue nobody consumes (the DLQ, the held deletes) once from head to tail. Each message
 * is republished — to where `route` says, or to the queue's own tail — and acked only once its
 * copy is confirmed, so an interrupted walk loses nothing (at worst a message is in two places,
 * which reconciling makes harmless). A dropped message is acked without a copy.
 *
 * Messages are kept by republishing rather than by leaving them unacked: RabbitMQ 3.10 quorum
 * queues put returned messages into a returns queue served first, in no particular order
 * (rabbitmq/rabbitmq-server#6804), while a full walk that re-appends every kept message leaves
 * them in their original order. Only the messages present at the start are visited, so a walk
 * whose messages come back meanwhile (a replay parked again) still ends. Returns how many
 * messages the queue held at the start.
 */
export async function walkQueue(
  connection: ChannelModel,
  queue: string,
  publisher: Publisher,
  route: WalkRoute,
): Promise<number> {
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  const walk = randomUUID();
  try {
    const { messageCount: depth } = await channel.checkQueue(queue);
    let left = depth;
    let more = true;
    while (more && left > 0) {
      const batch: GetMessage[] = [];
      while (batch.length < Math.min(WALK_BATCH, left)) {
        const message = await channel.get(queue, { noAck: false });
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
        const destination = route(message);
        if (destination === 'keep') copies.push(copyToTail(message, queue, walk));
        else if (destination !== 'drop') copies.push(destination);
      }
      await publisher.publish(copies);
      // One ack for the whole batch (every delivery of this channel up to its last): a quorum
      // queue ignores most of a run of single acks when the channel closes right after them
      // (rabbitmq/rabbitmq-server#10327), which would leave replayed tasks in the queue as well.
      channel.ack(batch[batch.length - 1] as GetMessage, true);
    }
    return depth;
  } finally {
    await channel.close().catch(() => undefined);
  }
}

/** The id a walked message keeps: its own, else its task's. */
export function messageIdOf(message: GetMessage): string | undefined {
  const own = message.properties.messageId as unknown;
  if (typeof own === 'string' && own !== '') return own;
  const parsed = parseTask(message.content);
  return parsed.ok ? parsed.task.id : undefined;
}

function copyToTail(message: GetMessage, queue: string, walk: string): OutgoingMessage {
  const headers = Object.entries(message.properties.headers ?? {});
  return {
    queue,
    body: message.content,
    messageId: messageIdOf(message) ?? '',
    headers: {
      ...Object.fromEntries(headers.filter(([name]) => !DELIVERY_HEADERS.has(name))),
      [WALK_HEADER]: walk,
    },
  };
}
