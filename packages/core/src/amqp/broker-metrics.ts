import { Counter, Gauge, type Registry } from 'prom-client';
import type { Broker } from './broker.js';

/**
 * Registers on `registry` what an operator watches during a RabbitMQ node loss (labels are
 * `host:port` of a node, never a credential):
 * - `s3relay_broker_connected{node}`: 1 for the node this process is connected to now, 0 for the
 *   others; all 0 while disconnected;
 * - `s3relay_broker_connects_total{node}`: connections opened (the first, then every failover
 *   and reconnect);
 * - `s3relay_broker_node_failures_total{node}`: connect attempts a node refused or did not
 *   answer in time (the process moved on to the next node).
 */
export function registerBrokerMetrics(registry: Registry, broker: Broker): void {
  const registers = [registry];
  const connects = new Counter({
    name: 's3relay_broker_connects_total',
    help: 'Broker connections opened, by node',
    labelNames: ['node'] as const,
    registers,
  });
  const failures = new Counter({
    name: 's3relay_broker_node_failures_total',
    help: 'Connect attempts a broker node refused or did not answer, by node',
    labelNames: ['node'] as const,
    registers,
  });
  new Gauge({
    name: 's3relay_broker_connected',
    help: '1 for the broker node this process is connected to, 0 for the others',
    labelNames: ['node'] as const,
    registers,
    collect() {
      const current = broker.node;
      for (const node of broker.nodes) this.set({ node }, node === current ? 1 : 0);
    },
  });
  for (const node of broker.nodes) {
    connects.inc({ node }, 0);
    failures.inc({ node }, 0);
  }
  broker.on('connected', (_connection, node) => connects.inc({ node }));
  broker.on('node-failed', (node) => failures.inc({ node }));
}
