// The Broker with several node URLs. The "nodes" are TCP proxies in front of the one test broker:
// each can refuse, reset or black-hole its connections like a node that is down or cut off. What a
// real cluster adds (leaders, replicas) is tested with three nodes in test/cluster/.
import { randomBytes } from 'node:crypto';
import { RelayError } from '@s3relay/core';
import { Publisher } from '@s3relay/core/amqp';
import { describe, expect, it } from 'vitest';
import { amqpFixtures } from '../helpers/amqp-fixtures.js';
import { eventually } from '../helpers/eventually.js';
import { captureLog } from '../helpers/log-capture.js';
import { freePort } from '../helpers/ports.js';
import { closeConnections, rabbitUrl, withChannel } from '../helpers/rabbit.js';
import { rabbitmqctl, targetForUrl } from '../helpers/rabbitmqctl.js';

const url = rabbitUrl();
const { usePrefix, broker, proxyTo } = amqpFixtures({
  connectionLabel: 's3relay-test',
  quorumGroupSize: 3,
  // The order as given, so the test knows which node comes first.
  brokerOptions: { random: () => 0.999, connectTimeoutMs: 1500 },
});

/** A "node": a proxy to the test broker, with a password in its URL that must never be printed. */
const node = () => proxyTo(url);

/** A node that is down (nobody listens on its port); its URL carries the password `hunter2`. */
async function downNode(): Promise<{ url: string; label: string }> {
  const port = await freePort();
  return { url: `amqp://relay:hunter2@127.0.0.1:${port}`, label: `127.0.0.1:${port}` };
}

describe('Broker with several nodes', () => {
  it('connects to the first node that answers, and moves on when its node fails', async () => {
    const prefix = usePrefix('nodes-failover');
    const down = await downNode();
    const [a, b] = [await node(), await node()];
    const log = captureLog('broker');
    const failed: string[] = [];
    const subject = broker(prefix, [down.url, a.url, b.url], { logger: log.logger });
    subject.on('node-failed', (label) => failed.push(label));
    await subject.waitConnected(10_000);
    expect(subject.node).toBe(a.label);
    expect(failed).toEqual([down.label]);
    const connected = log.withMessage('broker connected');
    expect(connected).toHaveLength(1);
    expect(connected[0]).toMatchObject({ unreachable: [expect.stringContaining(down.label)] });

    const publisher = new Publisher(subject, { timeoutMs: 3000, maxInFlight: 100 });
    const message = () => ({
      queue: subject.names.tasks,
      body: Buffer.from('{}'),
      messageId: randomBytes(8).toString('hex'),
    });
    await publisher.publish([message()]);

    // Node a dies: the broker moves on to b (the next after a), not back to the start.
    a.proxy.setMode('reset');
    await eventually(() => expect(subject.node).toBe(b.label), { timeoutMs: 10_000 });
    await publisher.publish([message()]);
    expect(log.withMessage('broker disconnected')).toHaveLength(1);
    await withChannel(url, async (channel) => {
      expect((await channel.checkQueue(subject.names.tasks)).messageCount).toBe(2);
    });
    expect(log.text()).not.toContain(`:${new URL(url).password}@`);
  });

  it('moves on from a node that accepts connections but never answers, within the connect timeout', async () => {
    const prefix = usePrefix('nodes-silent');
    const [silent, good] = [await node(), await node()];
    silent.proxy.setMode('drop');
    const subject = broker(prefix, [silent.url, good.url], { connectTimeoutMs: 1000 });
    const failed: string[] = [];
    subject.on('node-failed', (label) => failed.push(label));
    const started = Date.now();
    await subject.waitConnected(10_000);
    expect(subject.node).toBe(good.label);
    expect(failed).toEqual([silent.label]);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('notices a node that goes silent by the heartbeat and fails over; no publish waits for it', async () => {
    const prefix = usePrefix('nodes-blackhole');
    const [a, b] = [await node(), await node()];
    // The heartbeat notices the silence after about 4 s; the publish must not wait that long.
    const subject = broker(prefix, [a.url, b.url], { heartbeatSeconds: 2 });
    await subject.waitConnected(10_000);
    expect(subject.node).toBe(a.label);
    const publisher = new Publisher(subject, { timeoutMs: 1000, maxInFlight: 100 });
    a.proxy.setMode('drop');
    const sent = Date.now();
    // Sent into the black hole: it must settle (rejected) within the publish timeout.
    await expect(
      publisher.publish([{ queue: subject.names.tasks, body: Buffer.from('{}'), messageId: 'x' }]),
    ).rejects.toBeInstanceOf(RelayError);
    expect(Date.now() - sent).toBeLessThan(2500);
    await eventually(() => expect(subject.node).toBe(b.label), { timeoutMs: 10_000 });
    await publisher.publish([
      { queue: subject.names.tasks, body: Buffer.from('{}'), messageId: 'y' },
    ]);
  });

  it('reports a round where every node failed once, and rejects a fail-fast wait', async () => {
    const prefix = usePrefix('nodes-down');
    const [one, two] = [await downNode(), await downNode()];
    const log = captureLog('broker');
    const subject = broker(prefix, [one.url, two.url], { logger: log.logger });
    const rounds: boolean[] = [];
    subject.on('connect-failed', (_error, permanent) => rounds.push(permanent));
    const failed: string[] = [];
    subject.on('node-failed', (label) => failed.push(label));
    await expect(subject.waitConnected(10_000, { failFast: true })).rejects.toThrow(/ECONNREFUSED/);
    expect(rounds).toEqual([false]);
    expect(failed).toEqual([one.label, two.label]);
    const [line] = log.withMessage('broker connect failed');
    const printed = `amqp://relay:***@${one.label},amqp://relay:***@${two.label}`;
    expect(line?.url).toBe(printed);
    await expect(subject.waitConnected(300)).rejects.toThrow(
      `RabbitMQ did not answer within 300 ms at ${printed}`,
    );
    expect(log.text()).not.toContain('hunter2');
  });

  it('spreads processes over the nodes instead of piling onto the first', async () => {
    const prefix = usePrefix('nodes-spread');
    const nodes = [await node(), await node(), await node()];
    const brokers = Array.from({ length: 12 }, () =>
      broker(
        prefix,
        nodes.map((n) => n.url),
        { random: Math.random },
      ),
    );
    await Promise.all(brokers.map((b) => b.waitConnected(20_000)));
    const used = new Set(brokers.map((b) => b.node));
    // Twelve random orders all starting at the same node: (1/3)^11, about 6 in a million.
    expect(used.size).toBeGreaterThan(1);
    for (const b of brokers) expect(nodes.map((n) => n.label)).toContain(b.node);
  });
});

describe('quorum group size', () => {
  interface ListedQueue {
    readonly name: string;
    /** `[name, type, value]` triples. */
    readonly arguments: readonly (readonly [string, string, unknown])[];
  }

  /** Each queue's arguments as the broker lists them. */
  async function listedArguments(prefix: string): Promise<Map<string, Record<string, unknown>>> {
    const out = await rabbitmqctl(
      ['list_queues', 'name', 'arguments', '--formatter', 'json', '-q'],
      targetForUrl(url),
    );
    const rows = JSON.parse(out.trim() === '' ? '[]' : out) as ListedQueue[];
    return new Map(
      rows
        .filter((row) => row.name.startsWith(`${prefix}.`))
        .map((row) => [
          row.name,
          Object.fromEntries(row.arguments.map(([name, , value]) => [name, value])),
        ]),
    );
  }

  it('declares every queue with x-quorum-initial-group-size', async () => {
    const prefix = usePrefix('group-size');
    const subject = broker(prefix, [url], {
      topology: { prefix, retryDelaysMs: [1000, 5000], deliveryLimit: 5, quorumGroupSize: 5 },
    });
    await subject.waitConnected(10_000);
    const listed = await listedArguments(prefix);
    expect([...listed.keys()].sort()).toEqual(
      [
        `${prefix}.dlq`,
        `${prefix}.held`,
        `${prefix}.retry.1s`,
        `${prefix}.retry.5s`,
        `${prefix}.tasks`,
      ].sort(),
    );
    for (const [name, args] of listed) {
      expect(args['x-quorum-initial-group-size'], name).toBe(5);
      expect(args['x-queue-type'], name).toBe('quorum');
    }
  });

  it('keeps the group size of queues that exist with another one or none, and says so once', async () => {
    const prefix = usePrefix('group-size-kept');
    // As an s3relay before AMQP_QUORUM_GROUP_SIZE declared them (no group size), and one
    // declared by hand with a group size of 1.
    await withChannel(url, async (channel) => {
      const atLeastOnce = {
        'x-dead-letter-strategy': 'at-least-once',
        'x-overflow': 'reject-publish',
      };
      await channel.assertQueue(`${prefix}.dlq`, {
        durable: true,
        arguments: { 'x-queue-type': 'quorum', 'x-quorum-initial-group-size': 1 },
      });
      await channel.assertQueue(`${prefix}.tasks`, {
        durable: true,
        arguments: {
          'x-queue-type': 'quorum',
          'x-delivery-limit': 5,
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': `${prefix}.dlq`,
          ...atLeastOnce,
        },
      });
    });
    const log = captureLog('broker');
    const subject = broker(prefix, [url], { logger: log.logger });
    await subject.waitConnected(10_000);
    const kept = log.withMessage('queue keeps its replication');
    expect(kept.map((line) => [line.queue, line.groupSize]).sort()).toEqual(
      [
        [`${prefix}.dlq`, 1],
        [`${prefix}.tasks`, 'the broker default'],
      ].sort(),
    );
    const listed = await listedArguments(prefix);
    expect(listed.get(`${prefix}.tasks`)?.['x-quorum-initial-group-size']).toBeUndefined();
    expect(listed.get(`${prefix}.retry.1s`)?.['x-quorum-initial-group-size']).toBe(3);

    // Every reconnect declares again; the note is not repeated.
    expect(await closeConnections({ nameContains: `s3relay-test ${prefix}` })).toBe(1);
    await eventually(() => expect(log.withMessage('broker connected')).toHaveLength(2), {
      timeoutMs: 10_000,
    });
    expect(log.withMessage('queue keeps its replication')).toHaveLength(2);
  });

  it('still refuses a queue whose other arguments differ, as a permanent mismatch', async () => {
    const prefix = usePrefix('group-size-mismatch');
    const first = broker(prefix, [url]);
    await first.waitConnected(10_000);
    await first.close();
    const other = broker(prefix, [url], {
      topology: { prefix, retryDelaysMs: [1000], deliveryLimit: 6, quorumGroupSize: 1 },
    });
    const error = await other.waitConnected(10_000).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(RelayError);
    expect((error as RelayError).code).toBe('RELAY_AMQP_TOPOLOGY_MISMATCH');
    expect((error as RelayError).message).toContain(`${prefix}.tasks`);
  });
});
