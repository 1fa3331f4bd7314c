import type { Config, Logger } from '@s3relay/core';
import { Broker, brokerOptionsFrom, redactUrls } from '@s3relay/core/amqp';
import { ConsoleConfigError, startConsole, type ConsoleServer } from '@s3relay/console';
import { consoleOperations } from './console-operations.js';
import { CliError, ExitCode } from './exit-codes.js';

/** A running console with the broker connection it owns. */
export interface ConsoleService {
  readonly server: ConsoleServer;
  /** Stops the console (letting a running operation finish), then closes the broker. */
  close(): Promise<void>;
}

export interface ConsoleServiceOptions {
  /** Shorter steps and sampling for tests; the console's defaults otherwise. */
  readonly queueIntervalMs?: number;
  readonly stepMs?: number;
}

/**
 * Starts `s3relay console` from the configuration: a broker connection of its own, the
 * operations of the CLI's commands, and the page. Thrown as {@link CliError} (usage) when it
 * would listen beyond loopback without CONSOLE_TOKEN.
 */
export async function startConsoleService(
  config: Config,
  logger: Logger,
  options: ConsoleServiceOptions = {},
): Promise<ConsoleService> {
  // It shows and operates on the queues the services declared; a mistyped prefix shows none.
  const broker = new Broker(brokerOptionsFrom(config, 'console', logger));
  const operations = consoleOperations(config, broker);
  broker.start();
  let server: ConsoleServer;
  try {
    server = await startConsole({
      host: config.console.host,
      port: config.console.port,
      token: config.console.token,
      prefix: config.amqp.prefix,
      broker,
      brokerUrl: redactUrls(config.amqp.urls),
      operations,
      logger,
      ...options,
    });
  } catch (err) {
    await operations.close();
    await broker.close();
    if (err instanceof ConsoleConfigError) {
      throw new CliError(ExitCode.usage, err.message, { cause: err });
    }
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    server,
    close() {
      closing ??= (async () => {
        await server.close();
        await operations.close();
        await broker.close();
      })();
      return closing;
    },
  };
}
