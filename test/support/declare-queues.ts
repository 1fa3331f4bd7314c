import { loadConfig } from '@s3relay/core';
import { declareTopology, topologyOptionsFrom } from '@s3relay/core/amqp';
import { connectAmqp } from '../helpers/rabbit.js';

/**
 * Declares the queues of `env` (its AMQP_URL, AMQP_PREFIX, RETRY_DELAYS, …) as a starting worker
 * or ingress does: operator commands only inspect, so a test of one declares them first.
 */
export async function declareQueues(env: Record<string, string>): Promise<void> {
  const config = loadConfig(env);
  const connection = await connectAmqp(config.amqp.urls[0] ?? '');
  try {
    await declareTopology(connection, topologyOptionsFrom(config));
  } finally {
    await connection.close();
  }
}
