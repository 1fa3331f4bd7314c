import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { brokerOptionsFrom, type BrokerRole } from './broker-options.js';

const config = loadConfig({
  AMQP_URL: 'amqp://a:b@node-1:5672,amqp://a:b@node-2:5672',
  AMQP_PREFIX: 'shop',
  AMQP_HEARTBEAT_SECONDS: '7',
  AMQP_DELIVERY_LIMIT: '4',
  AMQP_QUORUM_GROUP_SIZE: '5',
  RETRY_DELAYS: '2s,1m',
  SOURCE_BUCKETS: 'photos',
  DEST_BUCKET: 'backup',
});
const ROLES: readonly BrokerRole[] = ['ingress', 'worker', 'all', 'console', 'cli'];

describe('brokerOptionsFrom', () => {
  it('gives every process the same topology and nodes, or the broker would refuse one', () => {
    for (const role of ROLES) {
      const options = brokerOptionsFrom(config, role);
      expect(options.topology, role).toEqual({
        prefix: 'shop',
        retryDelaysMs: [2000, 60_000],
        deliveryLimit: 4,
        quorumGroupSize: 5,
      });
      expect(options.urls).toEqual(['amqp://a:b@node-1:5672', 'amqp://a:b@node-2:5672']);
      expect(options.heartbeatSeconds).toBe(7);
    }
  });

  it('lets the services declare the queues and the console and commands only use them', () => {
    const declaring = ROLES.filter((role) => brokerOptionsFrom(config, role).declare === true);
    expect(declaring).toEqual(['ingress', 'worker', 'all']);
  });

  it('names each connection by role and prefix, so operators tell deployments apart', () => {
    for (const role of ROLES) {
      expect(brokerOptionsFrom(config, role).connectionName).toMatch(
        new RegExp(`^s3relay-${role} shop \\S+ pid ${process.pid}$`),
      );
    }
  });
});
