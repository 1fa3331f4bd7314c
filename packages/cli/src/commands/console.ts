import { hostname } from 'node:os';
import { Command, Option } from 'commander';
import { createLogger, redactConfig } from '@s3relay/core';
import { Broker, redactUrl } from '@s3relay/core/amqp';
import { ConsoleConfigError, startConsole, type ConsoleServer } from '@s3relay/console';
import {
  addBrokerOptions,
  addLogOptions,
  brokerOverrides,
  logOverrides,
  type BrokerFlags,
  type LogFlags,
} from '../common-options.js';
import { configFromFlags } from '../config-from-flags.js';
import { consoleOperations } from '../console-operations.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { port } from '../flag-parsers.js';
import { runServices } from '../run-services.js';

interface ConsoleFlags extends BrokerFlags, LogFlags {
  port?: number;
  address?: string;
}

/** `s3relay console`: the operator's web page (queues, lag, throughput, the DLQ, resync). */
export function consoleCommand(env: NodeJS.ProcessEnv): Command {
  return addLogOptions(
    addBrokerOptions(
      new Command('console')
        .description(
          "run the operator's web console: queues, workers, lag and throughput, the DLQ, resync",
        )
        .addOption(new Option('--port <port>', 'port (CONSOLE_PORT)').argParser(port))
        .addOption(
          new Option(
            '--address <address>',
            'listen address (CONSOLE_HOST); any but loopback requires CONSOLE_TOKEN',
          ),
        )
        .addHelpText(
          'after',
          '\nThe console finds every ingress and worker through the broker (their telemetry\n' +
            'snapshots on <prefix>.telemetry), whatever their number and wherever they run.',
        ),
    ),
  ).action(async (flags: ConsoleFlags) => {
    const config = configFromFlags(env, {
      ...brokerOverrides(flags),
      ...logOverrides(flags),
      CONSOLE_PORT: flags.port?.toString(),
      CONSOLE_HOST: flags.address,
    });
    const logger = createLogger({
      level: config.log.level,
      format: config.log.format,
      service: 'console',
    });
    logger.debug('configuration', { config: redactConfig(config) });
    const broker = new Broker({
      url: config.amqp.url,
      heartbeatSeconds: config.amqp.heartbeatSeconds,
      connectionName: `s3relay-console ${config.amqp.prefix} ${hostname()}:${process.pid}`,
      topology: {
        prefix: config.amqp.prefix,
        retryDelaysMs: config.worker.retryDelaysMs,
        deliveryLimit: config.amqp.deliveryLimit,
      },
      logger,
    });
    const operations = consoleOperations(config, broker);
    let server: ConsoleServer | undefined;
    await runServices(
      [
        {
          name: 'broker',
          start: () => Promise.resolve(broker.start()),
          close: () => broker.close(),
        },
        {
          name: 'console',
          start: async () => {
            try {
              server = await startConsole({
                host: config.console.host,
                port: config.console.port,
                token: config.console.token,
                prefix: config.amqp.prefix,
                broker,
                brokerUrl: redactUrl(config.amqp.url),
                operations,
                logger,
              });
            } catch (err) {
              if (err instanceof ConsoleConfigError) {
                throw new CliError(ExitCode.usage, err.message, { cause: err });
              }
              throw err;
            }
            logger.info('console listening', {
              url: server.url,
              login: config.console.token === undefined ? 'none (loopback)' : 'CONSOLE_TOKEN',
            });
          },
          close: async () => {
            await server?.close();
            await operations.close();
          },
        },
      ],
      { logger, shutdownTimeoutMs: config.shutdownTimeoutMs },
    );
  });
}
