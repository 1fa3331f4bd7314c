// The contract of our own AMQP layer (packages/core/src/amqp: Broker, Publisher, Consumer), held
// against a real RabbitMQ without any service around it. Why it is ours and not a library:
// docs/ARCHITECTURE.md, "Why our own AMQP layer". Network faults come from a TCP proxy in front
// of the test broker, force-closed connections from rabbitmqctl, a memory alarm from a private
// node.
import { once } from 'node:events';
import type { Channel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import {
  Consumer,
  Publisher,
  declareTopology,
  type Broker,
  type BrokerOptions,
} from '@s3relay/core/amqp';
import type { Logger } from '@s3relay/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { amqpFixtures } from '../helpers/amqp-fixtures.js';
import { eventually } from '../helpers/eventually.js';
import { captureLog } from '../helpers/log-capture.js';
import { startPrivateRabbit, type PrivateRabbit } from '../helpers/private-rabbit.js';
import {
  closeConnections,
  connectAmqp,
  drainQueue,
  publishToQueue,
  queueDepth,
  rabbitUrl,
  withChannel,
} from '../helpers/rabbit.js';

const url = rabbitUrl();
const { defer, usePrefix, proxyTo, ...fixtures } = amqpFixtures({
  connectionLabel: 's3relay-contract',
  quorumGroupSize: 1,
  brokerOptions: { connectTimeoutMs: 2000 },
});

function broker(prefix: string, brokerUrl: string, extra: Partial<BrokerOptions> = {}): Broker {
  return fixtures.broker(prefix, [brokerUrl], extra);
}

function publisherOf(subject: Broker, timeoutMs = 2000): Publisher {
  const publisher = new Publisher(subject, { timeoutMs, maxInFlight: 100 });
  defer(() => publisher.close());
  return publisher;
}

const message = (queue: string, id = `m-${Math.random()}`) => ({
  queue,
  body: Buffer.from(JSON.stringify({ id })),
  messageId: id,
});

describe('Publisher', () => {
  it('rejects at once while disconnected, and never sends that message later', async () => {
    const prefix = usePrefix('contract-down');
    const { proxy, url: proxied } = await proxyTo(url);
    const subject = broker(prefix, proxied);
    const publisher = publisherOf(subject);
    await subject.waitConnected(10_000);
    await publisher.publish([message(subject.names.tasks, 'before')]);

    const disconnected = once(subject, 'disconnected');
    proxy.setMode('reset');
    await disconnected;
    const attempt = publisher.publish([message(subject.names.tasks, 'while-down')]);
    await expect(attempt).rejects.toMatchObject({ code: 'RELAY_AMQP_UNAVAILABLE' });
    // Rejected without waiting for a broker: it is still down.
    expect(subject.connection).toBeUndefined();

    proxy.setMode('pass');
    await subject.waitConnected(10_000);
    await publisher.publish([message(subject.names.tasks, 'after')]);
    const ids = (await drainQueue(url, subject.names.tasks)).map(
      (m) => m.properties.messageId as string,
    );
    expect(ids).toEqual(['before', 'after']);
  });

  it('fails an unroutable message as an error, not a confirm, and goes on publishing', async () => {
    const prefix = usePrefix('contract-unroutable');
    const subject = broker(prefix, url);
    const publisher = publisherOf(subject);
    await subject.waitConnected(10_000);
    await expect(
      publisher.publish([message(`${prefix}.no-such-queue`, 'lost')]),
    ).rejects.toMatchObject({ code: 'RELAY_AMQP_UNROUTABLE' });
    await publisher.publish([message(subject.names.tasks, 'routed')]);
    expect(await queueDepth(url, subject.names.tasks)).toBe(1);
  });

  it('settles every confirm, and its close, within PUBLISH_TIMEOUT_MS when the broker goes silent', async () => {
    const prefix = usePrefix('contract-timeout');
    const { proxy, url: proxied } = await proxyTo(url);
    // A heartbeat far longer than the test: only the publish timeout can end the wait.
    const subject = broker(prefix, proxied, { heartbeatSeconds: 60 });
    const timeoutMs = 700;
    const publisher = publisherOf(subject, timeoutMs);
    await subject.waitConnected(10_000);
    await publisher.publish([message(subject.names.tasks)]);

    proxy.setMode('drop');
    const started = performance.now();
    await expect(
      publisher.publish([message(subject.names.tasks), message(subject.names.tasks)]),
    ).rejects.toMatchObject({ code: 'RELAY_AMQP_PUBLISH_TIMEOUT' });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 5);
    expect(elapsed).toBeLessThan(timeoutMs + 1000);
    expect(publisher.inFlight).toBe(0);
    // Closing does not wait for the silent broker either (amqplib alone would wait for ever).
    const closing = performance.now();
    await publisher.close();
    expect(performance.now() - closing).toBeLessThan(timeoutMs + 1000);
  });

  it('replaces its channel after a nack, so a channel stuck on a dead leader heals', async () => {
    const prefix = usePrefix('contract-nack');
    const log = captureLog('publisher');
    const subject = broker(prefix, url);
    const connection = await subject.waitConnected(10_000);
    const opened: ConfirmChannel[] = [];
    const open = connection.createConfirmChannel.bind(connection);
    vi.spyOn(connection, 'createConfirmChannel').mockImplementation(async () => {
      const channel = await open();
      opened.push(channel);
      return channel;
    });
    // A queue that refuses everything: every publish to it is nacked.
    const full = `${prefix}.full`;
    await withChannel(url, (channel) =>
      channel.assertQueue(full, {
        durable: true,
        arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' },
      }),
    );
    const publisher = new Publisher(subject, {
      timeoutMs: 1000,
      maxInFlight: 10,
      logger: log.logger,
    });
    defer(() => publisher.close());
    await publisher.publish([message(subject.names.tasks)]);
    expect(opened).toHaveLength(1);
    const firstClosed = once(opened[0] as ConfirmChannel, 'close');

    await expect(publisher.publish([message(full)])).rejects.toMatchObject({
      code: 'RELAY_AMQP_NACKED',
    });
    expect(log.withMessage('publish channel replaced after a nack')).toHaveLength(1);
    await publisher.publish([message(subject.names.tasks)]);
    expect(opened).toHaveLength(2);
    // The nacked channel is closed once its confirms had their time (the publish timeout).
    await firstClosed;
    await publisher.publish([message(subject.names.tasks)]);
    expect(opened).toHaveLength(2);
  });
});

describe('Broker', () => {
  it('closes cleanly while a connection is being opened, and keeps none', async () => {
    const prefix = usePrefix('contract-close-connecting');
    const { proxy, url: proxied } = await proxyTo(url);
    // The broker's side waits in the proxy: the handshake cannot finish, and close() lands in it.
    proxy.hold('down');
    const subject = broker(prefix, proxied, { connectTimeoutMs: 10_000 });
    const connected = vi.fn();
    subject.on('connected', connected);
    subject.start();
    await eventually(() => expect(proxy.connections).toBe(1));
    expect(subject.state).toBe('connecting');

    await subject.close(1000);
    expect(subject.state).toBe('closed');
    proxy.release();
    // The connection being opened is dropped once it is open, or fails; either way none stays.
    await eventually(() => expect(proxy.connections).toBe(0), { timeoutMs: 15_000 });
    expect(connected).not.toHaveBeenCalled();
    expect(subject.connection).toBeUndefined();
    await expect(subject.waitConnected(100)).rejects.toMatchObject({
      code: 'RELAY_AMQP_UNAVAILABLE',
    });
  });
});

describe('Consumer', () => {
  /** A consumer of the tasks queue that acks everything and records what it got. */
  function consumerOf(
    subject: Broker,
    logger?: Logger,
  ): { consumer: Consumer; received: string[] } {
    const received: string[] = [];
    const consumer = new Consumer(subject, {
      queue: subject.names.tasks,
      prefetch: 4,
      ...(logger === undefined ? {} : { logger }),
      handler: (delivery: ConsumeMessage) => {
        received.push(String(delivery.properties.messageId));
        return Promise.resolve('ack');
      },
    });
    defer(() => consumer.close());
    return { consumer, received };
  }

  it('subscribes again after its connection is lost', async () => {
    const prefix = usePrefix('contract-consume-conn');
    const subject = broker(prefix, url);
    await subject.waitConnected(10_000);
    const { consumer, received } = consumerOf(subject);
    consumer.start();
    await publishToQueue(url, subject.names.tasks, [
      { content: '{}', options: { messageId: 'one' } },
    ]);
    await eventually(() => expect(received).toEqual(['one']));

    const reconnected = once(subject, 'connected');
    expect(await closeConnections({ nameContains: `s3relay-contract ${prefix}` })).toBe(1);
    await reconnected;
    await eventually(() => expect(consumer.isConsuming).toBe(true));
    await publishToQueue(url, subject.names.tasks, [
      { content: '{}', options: { messageId: 'two' } },
    ]);
    await eventually(() => expect(received).toEqual(['one', 'two']));
  });

  it('subscribes again after its channel alone is closed by the broker', async () => {
    const prefix = usePrefix('contract-consume-chan');
    const subject = broker(prefix, url);
    const connection = await subject.waitConnected(10_000);
    const channels: Channel[] = [];
    const create = connection.createChannel.bind(connection);
    vi.spyOn(connection, 'createChannel').mockImplementation(async () => {
      const channel = await create();
      channels.push(channel);
      return channel;
    });
    const { consumer, received } = consumerOf(subject);
    consumer.start();
    await eventually(() => expect(consumer.isConsuming).toBe(true));
    const first = channels[0] as Channel;

    // A channel error (404 on a passive declare) closes that channel only.
    first.on('error', () => undefined);
    const closed = new Promise((resolve) => first.once('close', resolve));
    await expect(first.checkQueue(`${prefix}.no-such-queue`)).rejects.toThrow(/NOT_FOUND/);
    await closed;
    expect(subject.connection).toBe(connection);
    await eventually(() => expect(consumer.isConsuming).toBe(true));
    // One to declare the topology again (a closed channel may mean a queue that is gone), one
    // to consume on.
    expect(channels).toHaveLength(3);
    await publishToQueue(url, subject.names.tasks, [
      { content: '{}', options: { messageId: 'after' } },
    ]);
    await eventually(() => expect(received).toEqual(['after']));
  });

  it('notices that the broker cancelled it (its queue deleted), declares the queue again and consumes', async () => {
    const prefix = usePrefix('contract-consume-cancel');
    const log = captureLog('consumer');
    const subject = broker(prefix, url);
    await subject.waitConnected(10_000);
    const { consumer, received } = consumerOf(subject, log.logger);
    consumer.start();
    await publishToQueue(url, subject.names.tasks, [
      { content: '{}', options: { messageId: 'one' } },
    ]);
    await eventually(() => expect(received).toEqual(['one']));

    await withChannel(url, (channel) => channel.deleteQueue(subject.names.tasks));
    await eventually(() =>
      expect(log.withMessage('consumer cancelled by the broker; subscribing again')).toEqual([
        expect.objectContaining({ level: 'warn', queue: subject.names.tasks }),
      ]),
    );
    await eventually(() => expect(consumer.isConsuming).toBe(true), { timeoutMs: 10_000 });
    // Declared again through the topology, with its arguments: declaring it as a worker does
    // is accepted (another quorum group size would be too, anything else would be refused).
    const connection = await connectAmqp(url);
    await declareTopology(connection, fixtures.topology(prefix)).finally(() => connection.close());
    // Sent without `mandatory`: to a queue that is not there it would be dropped unseen.
    await publishToQueue(url, subject.names.tasks, [
      { content: '{}', options: { messageId: 'two' } },
    ]);
    await eventually(() => expect(received).toEqual(['one', 'two']));
  });

  it('says why while it cannot declare its queue again, consuming nothing, and recovers once it can', async () => {
    const prefix = usePrefix('contract-consume-cancel-stuck');
    const log = captureLog('consumer');
    const subject = broker(prefix, url);
    await subject.waitConnected(10_000);
    const { consumer, received } = consumerOf(subject, log.logger);
    consumer.start();
    await eventually(() => expect(consumer.isConsuming).toBe(true));

    // Someone made the DLQ a classic queue, then deleted the tasks queue: the topology cannot
    // be declared as it was, and consuming a queue declared otherwise would be worse.
    await withChannel(url, async (channel) => {
      await channel.deleteQueue(subject.names.dlq);
      await channel.assertQueue(subject.names.dlq, { durable: true });
      await channel.deleteQueue(subject.names.tasks);
    });
    await eventually(() =>
      expect(log.withMessage('subscribe failed')).toContainEqual(
        expect.objectContaining({
          level: 'error',
          queue: subject.names.tasks,
          error: expect.objectContaining({ code: 'RELAY_AMQP_TOPOLOGY_MISMATCH' }) as unknown,
        }),
      ),
    );
    expect(consumer.isConsuming).toBe(false);

    await withChannel(url, (channel) => channel.deleteQueue(subject.names.dlq));
    await eventually(() => expect(consumer.isConsuming).toBe(true), { timeoutMs: 15_000 });
    await publishToQueue(url, subject.names.tasks, [
      { content: '{}', options: { messageId: 'after' } },
    ]);
    await eventually(() => expect(received).toEqual(['after']));
  });
});

describe('on a private node (memory alarm)', () => {
  let rabbit: PrivateRabbit;

  beforeAll(async () => {
    rabbit = await startPrivateRabbit();
  }, 90_000);
  afterAll(async () => {
    await rabbit.dispose();
  });

  it('rejects at once while the broker blocks publishers, and sends nothing later', async () => {
    const prefix = usePrefix('contract-blocked', rabbit.url);
    const subject = broker(prefix, rabbit.url);
    const publisher = publisherOf(subject, 1500);
    await subject.waitConnected(30_000);
    await publisher.publish([message(subject.names.tasks, 'before')]);

    const blocked = once(subject, 'blocked');
    await rabbit.setMemoryAlarm(true);
    try {
      // RabbitMQ tells a connection it is blocked when it next publishes; that first message
      // waits in the socket until the alarm clears.
      await publisher
        .publish([message(subject.names.tasks, 'probe')])
        .catch((err: unknown) => expect(err).toMatchObject({ code: 'RELAY_AMQP_PUBLISH_TIMEOUT' }));
      await blocked;
      const started = performance.now();
      await expect(
        publisher.publish([message(subject.names.tasks, 'while-blocked')]),
      ).rejects.toMatchObject({ code: 'RELAY_AMQP_BLOCKED' });
      // At once: not after the publish timeout.
      expect(performance.now() - started).toBeLessThan(500);
    } finally {
      const unblocked = once(subject, 'unblocked');
      await rabbit.setMemoryAlarm(false);
      await unblocked;
    }
    await publisher.publish([message(subject.names.tasks, 'after')]);
    const ids = (await drainQueue(rabbit.url, subject.names.tasks)).map(
      (m) => m.properties.messageId as string,
    );
    expect(ids.filter((id) => id !== 'probe')).toEqual(['before', 'after']);
  });
});
