import { Broker, type BrokerOptions, type TopologyOptions } from '@s3relay/core/amqp';
import { afterEach } from 'vitest';
import { deleteQueuesWithPrefix, rabbitUrl, uniquePrefix } from './rabbit.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

/** What every broker of one test file has in common. */
export interface AmqpFixtureOptions {
  /** Connections are named `<connectionLabel> <prefix>`, which closeConnections can match. */
  readonly connectionLabel: string;
  readonly quorumGroupSize: number;
  /** Any other option, for every broker (a test's own `extra` wins). */
  readonly brokerOptions?: Partial<BrokerOptions>;
}

/** A TCP proxy in front of a broker, and what a Broker connects to through it. */
export interface ProxiedBroker {
  readonly proxy: TcpProxy;
  readonly url: string;
  /** How the Broker names this node: `127.0.0.1:<proxy port>`. */
  readonly label: string;
}

export interface AmqpFixtures {
  /** Runs `cleanup` after the current test, before what was deferred earlier. */
  readonly defer: (cleanup: () => Promise<unknown>) => void;
  /** A fresh queue prefix; its queues on `brokerUrl` are deleted after the test. */
  readonly usePrefix: (label: string, brokerUrl?: string) => string;
  /** The topology a fixture broker declares: one 1 s retry tier, delivery limit 5. */
  readonly topology: (prefix: string) => TopologyOptions;
  /** A Broker for `prefix` on `urls` with 2 s heartbeats, closed after the test. */
  readonly broker: (
    prefix: string,
    urls: readonly string[],
    extra?: Partial<BrokerOptions>,
  ) => Broker;
  /** A proxy in front of `brokerUrl`, which can refuse, reset or black-hole; closed after the test. */
  readonly proxyTo: (brokerUrl?: string) => Promise<ProxiedBroker>;
}

/**
 * Brokers, prefixes and proxies for tests of the AMQP layer against a real RabbitMQ. Call once at
 * a test file's top level: after each test, what it created is released, last first, and a
 * failing release does not hide the test's own result.
 */
export function amqpFixtures(options: AmqpFixtureOptions): AmqpFixtures {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });
  const defer = (cleanup: () => Promise<unknown>) => {
    cleanups.push(cleanup);
  };
  const topology = (prefix: string): TopologyOptions => ({
    prefix,
    retryDelaysMs: [1000],
    deliveryLimit: 5,
    quorumGroupSize: options.quorumGroupSize,
  });
  return {
    defer,
    topology,
    usePrefix: (label, brokerUrl = rabbitUrl()) => {
      const prefix = uniquePrefix(label);
      defer(() => deleteQueuesWithPrefix(brokerUrl, prefix));
      return prefix;
    },
    broker: (prefix, urls, extra = {}) => {
      const created = new Broker({
        urls,
        heartbeatSeconds: 2,
        connectionName: `${options.connectionLabel} ${prefix}`,
        topology: topology(prefix),
        ...options.brokerOptions,
        ...extra,
      });
      defer(() => created.close(1000));
      return created;
    },
    proxyTo: async (brokerUrl = rabbitUrl()) => {
      const proxy = await startTcpProxy({ port: Number(new URL(brokerUrl).port || 5672) });
      defer(() => proxy.close());
      return { proxy, url: proxy.url(brokerUrl), label: `127.0.0.1:${proxy.port}` };
    },
  };
}
