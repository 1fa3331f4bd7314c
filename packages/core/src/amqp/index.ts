export { Broker, type BrokerEvents, type BrokerOptions, type BrokerState } from './broker.js';
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
