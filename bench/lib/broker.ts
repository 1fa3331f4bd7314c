import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import type { Task } from '@s3relay/core';
import { deleteQueuesWithPrefix } from '../../test/helpers/rabbit.js';

export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** A fresh AMQP_PREFIX for one benchmark, e.g. `bench-ingress-1a2b3c4d`. */
export function benchPrefix(label: string): string {
  return `bench-${label}-${randomBytes(4).toString('hex')}`;
}

/** Deletes every queue of `prefix` (failures are reported, not thrown: this is cleanup). */
export async function deleteQueues(prefix: string): Promise<void> {
  try {
    await deleteQueuesWithPrefix(AMQP_URL, prefix);
  } catch (err) {
    process.stderr.write(`could not delete the queues of ${prefix}: ${String(err)}\n`);
  }
}

/**
 * Publishes tasks to `queue` as the ingress does (persistent JSON, messageId = task id,
 * attempt 0) and resolves once the broker confirmed all of them.
 */
export async function publishTasks(queue: string, tasks: readonly Task[]): Promise<void> {
  const connection = await amqp.connect(AMQP_URL);
  connection.on('error', () => undefined);
  try {
    const channel = await connection.createConfirmChannel();
    for (const task of tasks) {
      channel.sendToQueue(queue, Buffer.from(JSON.stringify(task)), {
        persistent: true,
        contentType: 'application/json',
        messageId: task.id,
        headers: { 'x-s3relay-attempt': 0 },
      });
    }
    await channel.waitForConfirms();
  } finally {
    await connection.close().catch(() => undefined);
  }
}
