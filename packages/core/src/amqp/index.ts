/**
 * s3relay's own AMQP layer on amqplib: `Broker` (one connection that reconnects and declares the
 * topology), `Publisher` (confirmed, mandatory publishes that never buffer) and `Consumer`
 * (manual acks, resubscribing after every loss).
 *
 * Written instead of using amqp-connection-manager, which buffers publishes while disconnected
 * (the ingress would answer late, or 2xx for a message that dies with the process), republishes
 * unconfirmed messages after a reconnect, and never handles `basic.return` (an unroutable message
 * would count as confirmed). Contract: docs/ARCHITECTURE.md, "Why our own AMQP layer", held by
 * test/integration/amqp-contract.test.ts.
 */
export { Broker, type BrokerEvents, type BrokerOptions, type BrokerState } from './broker.js';
export { brokerOptionsFrom, topologyOptionsFrom, type BrokerRole } from './broker-options.js';
export { registerBrokerMetrics } from './broker-metrics.js';
export {
  Consumer,
  type ConsumerOptions,
  type MessageHandler,
  type Settlement,
} from './consumer.js';
export { Publisher, type OutgoingMessage, type PublisherOptions } from './publisher.js';
export {
  declareTopology,
  deleteTopology,
  topologyNames,
  type KeptGroupSize,
  type RetryTier,
  type TopologyNames,
  type TopologyOptions,
} from './topology.js';
export { nodeLabel, parseBrokerUrls, redactUrls } from './endpoints.js';
