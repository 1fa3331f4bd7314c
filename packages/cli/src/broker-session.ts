import type { ChannelModel } from 'amqplib';
import { RelayError, silentLogger, type Config, type Logger } from '@s3relay/core';
import { Broker, redactUrls } from '@s3relay/core/amqp';
import { CliError, ExitCode } from './exit-codes.js';

/** An open connection for one operator command. */
export interface BrokerSession {
  readonly broker: Broker;
  readonly connection: ChannelModel;
}

/**
 * Connects (declaring the topology, so a fresh broker is usable), runs `work`, and closes.
 * Thrown as {@link CliError} with the "unavailable" exit code when the broker cannot be reached
 * (with a message that says how to start one) or refuses the credentials, vhost or permissions
 * (with the broker's refusal), and with the usage code when the queues exist with other
 * arguments.
 */
export async function withBroker<T>(
  config: Config,
  work: (session: BrokerSession) => Promise<T>,
  options: { logger?: Logger; timeoutMs?: number } = {},
): Promise<T> {
  const broker = new Broker({
    urls: config.amqp.urls,
    heartbeatSeconds: config.amqp.heartbeatSeconds,
    connectionName: 's3relay-cli',
    topology: {
      prefix: config.amqp.prefix,
      retryDelaysMs: config.worker.retryDelaysMs,
      deliveryLimit: config.amqp.deliveryLimit,
      quorumGroupSize: config.amqp.quorumGroupSize,
    },
    logger: options.logger ?? silentLogger,
  });
  try {
    let connection: ChannelModel;
    try {
      // Each node of a cluster may take the whole time before the next one is tried.
      const timeoutMs = (options.timeoutMs ?? 5000) * config.amqp.urls.length;
      connection = await broker.waitConnected(timeoutMs, { failFast: true });
    } catch (err) {
      if (err instanceof RelayError && err.code === 'RELAY_AMQP_ACCESS_REFUSED') {
        throw new CliError(ExitCode.unavailable, err.message, { cause: err });
      }
      if (err instanceof RelayError && !err.retryable) {
        throw new CliError(ExitCode.usage, err.message, { cause: err });
      }
      throw new CliError(ExitCode.unavailable, brokerUnreachableMessage(config.amqp.urls), {
        cause: err,
      });
    }
    return await work({ broker, connection });
  } finally {
    await broker.close();
  }
}

/** What to tell an operator when RabbitMQ does not answer. */
export function brokerUnreachableMessage(urls: readonly string[]): string {
  return [
    `RabbitMQ is not reachable at ${redactUrls(urls)}.`,
    'Start one and try again, for example:',
    '  rabbitmq-server -detached                       # Debian/Ubuntu (apt-get install rabbitmq-server)',
    '  docker run -d -p 5672:5672 -p 15672:15672 rabbitmq:3.13-management',
    'or point AMQP_URL (or --amqp-url) at your broker.',
  ].join('\n');
}
