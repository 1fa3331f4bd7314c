import { once } from 'node:events';
import amqp, { type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { startPrivateRabbit, type PrivateRabbit } from '../helpers/private-rabbit.js';
import {
  closeConnections,
  connectAmqp,
  deleteQueuesWithPrefix,
  drainQueue,
  peekQueue,
  publishToQueue,
  queueDepth,
  uniquePrefix,
} from '../helpers/rabbit.js';

describe('private RabbitMQ node', () => {
  let rabbit: PrivateRabbit;

  beforeAll(async () => {
    rabbit = await startPrivateRabbit();
  });

  afterAll(async () => {
    await rabbit?.dispose();
  });

  test('runs beside the machine broker under its own node name, reachable by rabbitmqctl', async () => {
    expect(rabbit.nodeName).toMatch(/^s3r-[0-9a-f]{8}@localhost$/);
    expect(rabbit.url).toBe(`amqp://guest:guest@127.0.0.1:${rabbit.port}`);
    const status = await rabbit.rabbitmqctl(['status']);
    expect(status).toContain(rabbit.nodeName);
  });

  test('a confirmed persistent message in a quorum queue survives kill -9 and restart', async () => {
    const queue = `${uniquePrefix('kill')}.tasks`;
    const connection = await connectAmqp(rabbit.url);
    const channel = await connection.createChannel();
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await connection.close();
    await publishToQueue(rabbit.url, queue, ['survivor']);
    // RabbitMQ 3.10 drops the confirmed messages of a quorum queue declared less than about a
    // second before the whole node is SIGKILLed (found while writing this test). Queues in real
    // runs are long-lived: wait until this one's registration is on disk, as theirs is.
    await rabbit.quorumQueueOnDisk(queue);

    await rabbit.kill();
    await expect(connectAmqp(rabbit.url, 1000)).rejects.toThrow();
    await rabbit.start();

    // The queue reports 0 messages until it has replayed its log after the restart.
    await eventually(async () => expect(await queueDepth(rabbit.url, queue)).toBe(1));
    const messages = await drainQueue(rabbit.url, queue);
    expect(messages).toHaveLength(1);
    expect(messages[0]?.content.toString()).toBe('survivor');
    expect(messages[0]?.properties.deliveryMode).toBe(2);
  });

  test('a graceful stop and start keeps queues; peekQueue requeues, drainQueue consumes', async () => {
    const prefix = uniquePrefix('stop');
    const queue = `${prefix}.dlq`;
    const connection = await connectAmqp(rabbit.url);
    const channel = await connection.createChannel();
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await connection.close();
    await publishToQueue(rabbit.url, queue, ['one', 'two']);

    await rabbit.stop();
    await expect(connectAmqp(rabbit.url, 1000)).rejects.toThrow();
    await rabbit.start();

    await eventually(async () => expect(await queueDepth(rabbit.url, queue)).toBe(2));
    const peeked = await peekQueue(rabbit.url, queue);
    expect(peeked.map((m) => m.content.toString())).toEqual(['one', 'two']);
    await eventually(async () => expect(await queueDepth(rabbit.url, queue)).toBe(2));
    const drained = await drainQueue(rabbit.url, queue);
    expect(drained.map((m) => m.content.toString())).toEqual(['one', 'two']);
    expect(drained[0]?.fields.redelivered).toBe(true);
    expect(await queueDepth(rabbit.url, queue)).toBe(0);

    await deleteQueuesWithPrefix(rabbit.url, prefix);
    const listed = await rabbit.rabbitmqctl([
      'list_queues',
      'name',
      '--quiet',
      '--no-table-headers',
    ]);
    expect(listed).not.toContain(prefix);
  });

  test('closeConnections closes only the connections whose connection_name matches', async () => {
    const label = uniquePrefix('conn');
    const victim = await connectNamed(rabbit.url, `${label} "victim", {x}`);
    const bystander = await connectNamed(rabbit.url, 'bystander');
    const victimClosed = once(victim, 'close');

    const closed = await closeConnections({ node: rabbit.nodeName, nameContains: label });

    expect(closed).toBe(1);
    const [error] = (await victimClosed) as [Error | undefined];
    expect(error?.message).toMatch(/CONNECTION_FORCED/);
    // The bystander still works.
    const channel = await bystander.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    expect(queue).toMatch(/^amq\.gen-/);
    await bystander.close();
  });

  test('the memory alarm blocks a publishing connection and clearing it unblocks', async () => {
    const queue = `${uniquePrefix('alarm')}.tasks`;
    const connection = await connectAmqp(rabbit.url);
    connection.on('error', () => undefined);
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    const blocked = once(connection, 'blocked');
    try {
      await rabbit.setMemoryAlarm(true);
      let confirmed = false;
      channel.sendToQueue(queue, Buffer.from('held'), { persistent: true }, () => {
        confirmed = true;
      });
      const [reason] = (await blocked) as [string];
      expect(reason).toMatch(/memory/i);
      const unblocked = once(connection, 'unblocked');
      await rabbit.setMemoryAlarm(false);
      await unblocked;
      await channel.waitForConfirms();
      expect(confirmed).toBe(true);
      expect(await queueDepth(rabbit.url, queue)).toBe(1);
    } finally {
      await rabbit.setMemoryAlarm(false);
      await connection.close().catch(() => undefined);
    }
  });
});

async function connectNamed(url: string, name: string): Promise<ChannelModel> {
  const connection = await amqp.connect(url, { clientProperties: { connection_name: name } });
  connection.on('error', () => undefined);
  return connection;
}
