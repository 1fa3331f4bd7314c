import type { ChannelModel } from 'amqplib';
import { RelayError, silentLogger, type Config, type Logger } from '@s3relay/core';
import { Broker, brokerOptionsFrom, redactUrls, type TopologyNames } from '@s3relay/core/amqp';
import { CliError, ExitCode } from './exit-codes.js';

/** An open connection for one operator command. */
export interface BrokerSession {
  readonly broker: Broker;
  readonly connection: ChannelModel;
}

export interface BrokerSessionOptions {
  readonly logger?: Logger;
  /** Per node. @default 5000 */
  readonly timeoutMs?: number;
  /**
   * Fails (exit 1) when the tasks queue of `AMQP_PREFIX` does not exist, naming the prefix: a
   * mistyped prefix must not read as an empty, healthy system. @default true
   */
  readonly requireQueues?: boolean;
}

/**
 * Connects without declaring anything (operator commands inspect what exists; only the ingress
 * and the workers create queues), checks that the prefix's queues exist, runs `work`, and
 * closes. Thrown as {@link CliError} with the "unavailable" exit code when the broker cannot be
 * reached (with a message that says how to start one) or refuses the credentials, vhost or
 * permissions (with the broker's refusal), and with "problems found" when there are no queues
 * under the prefix.
 */
export async function withBroker<T>(
  config: Config,
  work: (session: BrokerSession) => Promise<T>,
  options: BrokerSessionOptions = {},
): Promise<T> {
  const broker = new Broker(brokerOptionsFrom(config, 'cli', options.logger ?? silentLogger));
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
      throw new CliError(ExitCode.unavailable, brokerUnreachableMessage(config.amqp.urls), {
        cause: err,
      });
    }
    if (options.requireQueues !== false) {
      await assertQueuesExist(connection, broker.names, config);
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

/** Thrown as {@link CliError} "problems found" when the prefix's tasks queue does not exist. */
async function assertQueuesExist(
  connection: ChannelModel,
  names: TopologyNames,
  config: Config,
): Promise<void> {
  // A passive declaration of a missing queue closes its channel: one of its own.
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  try {
    await channel.checkQueue(names.tasks);
  } catch (err) {
    if ((err as { code?: unknown }).code !== 404) throw err;
    throw new CliError(
      ExitCode.problemsFound,
      `no s3relay queues under prefix "${config.amqp.prefix}" at ${redactUrls(config.amqp.urls)} ` +
        `(${names.tasks} does not exist): check AMQP_PREFIX (or --amqp-prefix); the ingress and ` +
        'the workers create the queues when they start',
      { cause: err },
    );
  } finally {
    await channel.close().catch(() => undefined);
  }
}
