import { Command, Option } from 'commander';
import { createLogger, redactConfig } from '@s3relay/core';
import {
  addBrokerOptions,
  addLogOptions,
  brokerOverrides,
  logOverrides,
  type BrokerFlags,
  type LogFlags,
} from '../common-options.js';
import { isLoopback } from '@s3relay/console';
import { configFromFlags } from '../config-from-flags.js';
import { logColors } from '../log-colors.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { startConsoleService, type ConsoleService } from '../console-service.js';
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
      color: logColors(env, process.stdout),
    });
    if (!isLoopback(config.console.host) && config.console.token === undefined) {
      throw new CliError(
        ExitCode.usage,
        `CONSOLE_TOKEN is required when the console listens on ${config.console.host}; ` +
          'set one (at least 16 characters), or listen on 127.0.0.1 and reach it through an SSH ' +
          'tunnel or kubectl port-forward',
      );
    }
    logger.debug('configuration', { config: redactConfig(config) });
    let service: ConsoleService | undefined;
    await runServices(
      [
        {
          name: 'console',
          start: async () => {
            service = await startConsoleService(config, logger);
            logger.info('console listening', {
              url: service.server.url,
              login: config.console.token === undefined ? 'none (loopback)' : 'CONSOLE_TOKEN',
            });
          },
          close: async () => {
            await service?.close();
          },
        },
      ],
      { logger, shutdownTimeoutMs: config.shutdownTimeoutMs },
    );
  });
}
