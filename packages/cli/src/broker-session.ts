import type { ChannelModel } from 'amqplib';
import { RelayError, redactUrl, silentLogger, type Config, type Logger } from '@s3relay/core';
import { Broker } from '@s3relay/core/amqp';
import { CliError, ExitCode } from './exit-codes.js';

/** An open connection for one operator command. */
export interface BrokerSession {
  readonly broker: Broker;
  readonly connection: ChannelModel;
}

/**
 * Connects (declaring the topology, so a fresh broker is usable), runs `work`, and closes.
 * Thrown as {@link CliError} with the "unavailable" exit code when the broker cannot be reached,
 * with a message that says how to start one.
 */
export async function withBroker<T>(
  config: Config,
  work: (session: BrokerSession) => Promise<T>,
  options: { logger?: Logger; timeoutMs?: number } = {},
): Promise<T> {
  const broker = new Broker({
    url: config.amqp.url,
    heartbeatSeconds: config.amqp.heartbeatSeconds,
    connectionName: 's3relay-cli',
    topology: {
      prefix: config.amqp.prefix,
      retryDelaysMs: config.worker.retryDelaysMs,
      deliveryLimit: config.amqp.deliveryLimit,
    },
    logger: options.logger ?? silentLogger,
  });
  try {
    let connection: ChannelModel;
    try {
      connection = await broker.waitConnected(options.timeoutMs ?? 5000, { failFast: true });
    } catch (err) {
      if (err instanceof RelayError && !err.retryable) {
        throw new CliError(ExitCode.usage, err.message, { cause: err });
      }
      throw new CliError(ExitCode.unavailable, brokerUnreachableMessage(config.amqp.url), {
        cause: err,
      });
    }
    return await work({ broker, connection });
  } finally {
    await broker.close();
  }
}

/** What to tell an operator when RabbitMQ does not answer. */
export function brokerUnreachableMessage(url: string): string {
  return [
    `RabbitMQ is not reachable at ${redactUrl(url)}.`,
    'Start one and try again, for example:',
    '  rabbitmq-server -detached                       # Debian/Ubuntu (apt-get install rabbitmq-server)',
    '  docker run -d -p 5672:5672 -p 15672:15672 rabbitmq:3.13-management',
    'or point AMQP_URL (or --amqp-url) at your broker.',
  ].join('\n');
}
