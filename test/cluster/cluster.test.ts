// The cluster tier: a local 3-node RabbitMQ cluster (test/helpers/rabbit-cluster.ts) and what
// s3relay's AMQP layer does on it. Failovers under load, judged by the ledger, are the fault
// suite's cluster scenarios (test/faults; `npm run test:cluster` runs both); a Broker's moving
// between nodes is tested without a cluster in test/integration/broker-nodes.test.ts.
import { Broker, nodeLabel, type BrokerOptions } from '@s3relay/core/amqp';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { startRabbitCluster, type RabbitCluster } from '../helpers/rabbit-cluster.js';
import { deleteQueuesWithPrefix, uniquePrefix } from '../helpers/rabbit.js';
import { awsRecord, startTestIngress } from '../support/ingress-bed.js';

let cluster: RabbitCluster;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  cluster = await startRabbitCluster();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  // A test that stopped or killed nodes leaves them running again for the next.
  for (const node of cluster.nodes) if (!node.up) await node.start();
  await cluster.waitAllRunning();
});

afterAll(async () => {
  await cluster?.dispose();
});

function usePrefix(label: string): string {
  const prefix = uniquePrefix(label);
  cleanups.push(() => deleteQueuesWithPrefix(cluster.anyUp().url, prefix));
  return prefix;
}

function broker(prefix: string, extra: Partial<BrokerOptions> = {}): Broker {
  const created = new Broker({
    urls: cluster.urls,
    heartbeatSeconds: 2,
    connectionName: `s3relay-test ${prefix}`,
    topology: { prefix, retryDelaysMs: [1000], deliveryLimit: 5, quorumGroupSize: 3 },
    connectTimeoutMs: 2000,
    ...extra,
  });
  cleanups.push(() => created.close(1000));
  return created;
}

describe('the local cluster', () => {
  test('three nodes of their own on loopback form one cluster, with no plugin listeners', async () => {
    const names = cluster.nodes.map((node) => node.nodeName);
    expect(new Set(names).size).toBe(3);
    expect(new Set(cluster.nodes.map((node) => node.port)).size).toBe(3);
    const listed = await cluster.rabbitmqctl(['cluster_status', '--formatter', 'json']);
    const status = JSON.parse(listed) as { running_nodes: string[] };
    expect([...status.running_nodes].sort()).toEqual([...names].sort());
    for (const node of cluster.nodes) {
      const own = JSON.parse(await node.rabbitmqctl(['status', '--formatter', 'json'])) as {
        listeners: { interface: string; port: number; protocol: string }[];
      };
      // AMQP on its own port and Erlang distribution; no management, no Prometheus.
      expect(own.listeners.map((l) => l.protocol).sort()).toEqual(['amqp', 'clustering']);
      expect(own.listeners.every((l) => l.interface === '127.0.0.1')).toBe(true);
      expect(own.listeners.find((l) => l.protocol === 'amqp')?.port).toBe(node.port);
    }
  });

  test('s3relay replicates its queues on AMQP_QUORUM_GROUP_SIZE nodes', async () => {
    const three = usePrefix('cluster-group3');
    await broker(three).waitConnected(20_000);
    const one = usePrefix('cluster-group1');
    await broker(one, {
      topology: { prefix: one, retryDelaysMs: [1000], deliveryLimit: 5, quorumGroupSize: 1 },
    }).waitConnected(20_000);
    const statuses = await cluster.quorumStatuses();
    for (const queue of [`${three}.tasks`, `${three}.dlq`, `${three}.retry.1s`]) {
      expect(statuses.get(queue)?.members, queue).toHaveLength(3);
      expect(statuses.get(queue)?.online, queue).toHaveLength(3);
    }
    for (const queue of [`${one}.tasks`, `${one}.dlq`, `${one}.retry.1s`]) {
      expect(statuses.get(queue)?.members, queue).toHaveLength(1);
    }
  });
});

describe('s3relay on the cluster', () => {
  test('without a majority of nodes nothing is confirmed: the ingress answers 503, never 2xx', async () => {
    const started = await startTestIngress({
      label: 'cluster-minority',
      amqpUrl: cluster.urls.join(','),
      env: { PUBLISH_TIMEOUT_MS: '2000', AMQP_HEARTBEAT_SECONDS: '2' },
      cleanups,
    });
    cleanups.push(() => deleteQueuesWithPrefix(cluster.anyUp().url, started.prefix));
    const post = (key: string) =>
      fetch(`${started.url}/webhook/s3`, {
        method: 'POST',
        body: JSON.stringify({ Records: [awsRecord(key)] }),
        headers: { 'content-type': 'application/json' },
      });
    expect((await post('before')).status).toBe(200);

    // The node the ingress is connected to, from its own metrics; the other two go down.
    const metrics = await (await fetch(`${started.metricsUrl}/metrics`)).text();
    const connected = /s3relay_broker_connected\{node="([^"]+)"\} 1/.exec(metrics)?.[1];
    expect(connected).toBeDefined();
    const others = cluster.nodes.filter((node) => nodeLabel(node.url) !== connected);
    expect(others).toHaveLength(2);
    await Promise.all(others.map((node) => node.kill()));

    const during = await Promise.all([0, 1, 2].map((index) => post(`during-${index}`)));
    expect(during.map((response) => response.status)).toEqual([503, 503, 503]);

    await Promise.all(others.map((node) => node.start()));
    await eventually(async () => expect((await post('after')).status).toBe(200), {
      timeoutMs: 60_000,
      intervalMs: 1000,
    });
  });
});
