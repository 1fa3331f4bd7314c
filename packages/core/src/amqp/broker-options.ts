import { hostname } from 'node:os';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { BrokerOptions } from './broker.js';
import type { TopologyOptions } from './topology.js';

/** Who opens a broker connection: the services, and the operator's console and commands. */
export type BrokerRole = 'ingress' | 'worker' | 'all' | 'console' | 'cli';

/**
 * The topology every process declares or expects. All of them must agree, argument for argument,
 * or RabbitMQ refuses the later ones (`RELAY_AMQP_TOPOLOGY_MISMATCH`): so it is built here only.
 */
export function topologyOptionsFrom(config: Pick<Config, 'amqp' | 'worker'>): TopologyOptions {
  return {
    prefix: config.amqp.prefix,
    retryDelaysMs: config.worker.retryDelaysMs,
    deliveryLimit: config.amqp.deliveryLimit,
    quorumGroupSize: config.amqp.quorumGroupSize,
  };
}

/**
 * The broker options of a process in `role`, from its configuration. The services declare the
 * topology; the console and the operator's commands only use what the services declared, so a
 * mistyped `AMQP_PREFIX` shows nothing instead of creating a second set of queues. The
 * connection's name starts with `s3relay-<role> <prefix> `, which tells apart the processes of
 * several deployments on one broker in the management UI (and tests find theirs by it).
 */
export function brokerOptionsFrom(
  config: Pick<Config, 'amqp' | 'worker'>,
  role: BrokerRole,
  logger?: Logger,
): BrokerOptions {
  return {
    urls: config.amqp.urls,
    heartbeatSeconds: config.amqp.heartbeatSeconds,
    topology: topologyOptionsFrom(config),
    declare: role === 'ingress' || role === 'worker' || role === 'all',
    connectionName: `s3relay-${role} ${config.amqp.prefix} ${hostname()} pid ${process.pid}`,
    ...(logger === undefined ? {} : { logger }),
  };
}
