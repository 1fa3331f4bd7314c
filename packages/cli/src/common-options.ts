import { Option, type Command } from 'commander';
import type { Overrides } from './config-from-flags.js';

/** Options every command that talks to the broker accepts. */
export interface BrokerFlags {
  amqpUrl?: string;
  amqpPrefix?: string;
}

export interface LogFlags {
  logLevel?: string;
  logFormat?: string;
}

export function addBrokerOptions(command: Command): Command {
  return command
    .addOption(new Option('--amqp-url <url>', 'RabbitMQ URL (AMQP_URL)'))
    .addOption(new Option('--amqp-prefix <prefix>', 'queue name prefix (AMQP_PREFIX)'));
}

export function addLogOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--log-level <level>', 'LOG_LEVEL').choices(['error', 'warn', 'info', 'debug']),
    )
    .addOption(new Option('--log-format <format>', 'LOG_FORMAT').choices(['json', 'pretty']));
}

export function brokerOverrides(flags: BrokerFlags): Overrides {
  return { AMQP_URL: flags.amqpUrl, AMQP_PREFIX: flags.amqpPrefix };
}

export function logOverrides(flags: LogFlags): Overrides {
  return { LOG_LEVEL: flags.logLevel, LOG_FORMAT: flags.logFormat };
}
