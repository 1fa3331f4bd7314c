import { Command, Option } from 'commander';
import { createLogger, redactConfig, type Config, type Logger } from '@s3relay/core';
import { Broker, brokerOptionsFrom } from '@s3relay/core/amqp';
import { createIngress } from '@s3relay/ingress';
import { createWorker } from '@s3relay/worker';
import {
  addBrokerOptions,
  addLogOptions,
  brokerOverrides,
  logOverrides,
  type BrokerFlags,
  type LogFlags,
} from '../common-options.js';
import { configFromFlags, type Overrides } from '../config-from-flags.js';
import { logColors } from '../log-colors.js';
import { port, positiveInt } from '../flag-parsers.js';
import { runServices, type Service } from '../run-services.js';

interface IngressFlags {
  port?: number;
  address?: string;
  publicUrl?: string[];
}

interface WorkerFlags {
  concurrency?: number;
  script?: string;
  metricsPort?: number;
}

type ServeFlags = BrokerFlags & LogFlags & IngressFlags & WorkerFlags;

function addIngressOptions(command: Command): Command {
  return command
    .addOption(new Option('--port <port>', 'HTTP port (HTTP_PORT)').argParser(port))
    .addOption(new Option('--address <address>', 'listen address (HTTP_HOST), e.g. 0.0.0.0'))
    .addOption(
      new Option('--public-url <url...>', 'webhook URLs exactly as registered (PUBLIC_URLS)'),
    );
}

function addWorkerOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--concurrency <n>', 'tasks at once (WORKER_CONCURRENCY)').argParser(positiveInt),
    )
    .addOption(
      new Option(
        '--script <path>',
        'run `<path> <bucket> <key> copy|delete` per task instead of replicating (ACTION=script)',
      ),
    )
    .addOption(
      new Option(
        '--metrics-port <port>',
        'port of /healthz, /readyz, /metrics (METRICS_PORT)',
      ).argParser(port),
    );
}

function overrides(flags: ServeFlags): Overrides {
  return {
    ...brokerOverrides(flags),
    ...logOverrides(flags),
    HTTP_PORT: flags.port?.toString(),
    HTTP_HOST: flags.address,
    PUBLIC_URLS: flags.publicUrl?.join(','),
    WORKER_CONCURRENCY: flags.concurrency?.toString(),
    ACTION: flags.script === undefined ? undefined : 'script',
    ACTION_SCRIPT: flags.script,
    METRICS_PORT: flags.metricsPort?.toString(),
  };
}

function serviceLogger(config: Config, service: string, env: NodeJS.ProcessEnv): Logger {
  return createLogger({
    level: config.log.level,
    format: config.log.format,
    service,
    color: logColors(env, process.stdout),
  });
}

function sharedBroker(config: Config, logger: Logger): Broker {
  return new Broker(brokerOptionsFrom(config, 'all', logger));
}

/** Builds the services of a command from the effective configuration and its logger. */
type ServiceFactory = (config: Config, logger: Logger) => Service[];

/** A service command: flags over the environment, logging, then run until a signal. */
function serviceCommand(
  command: Command,
  env: NodeJS.ProcessEnv,
  logName: string,
  services: ServiceFactory,
): Command {
  return addLogOptions(addBrokerOptions(command)).action(async (flags: ServeFlags) => {
    const config = configFromFlags(env, overrides(flags));
    const logger = serviceLogger(config, logName, env);
    logger.debug('configuration', { config: redactConfig(config) });
    await runServices(services(config, logger), {
      logger,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
    });
  });
}

/** `s3relay ingress`, `s3relay worker` and `s3relay all`: the long-running services. */
export function serveCommands(env: NodeJS.ProcessEnv): Command[] {
  const ingress = serviceCommand(
    addIngressOptions(
      new Command('ingress').description('run the webhook ingress (HTTP → RabbitMQ)'),
    ),
    env,
    'ingress',
    (config, logger) => [{ name: 'ingress', ...bind(createIngress({ config, logger })) }],
  );

  const worker = serviceCommand(
    addWorkerOptions(new Command('worker').description('run a worker (RabbitMQ → backup bucket)')),
    env,
    'worker',
    (config, logger) => [{ name: 'worker', ...bind(createWorker({ config, logger })) }],
  );

  const all = serviceCommand(
    addWorkerOptions(
      addIngressOptions(
        new Command('all')
          .description('run the ingress and a worker in one process (small setups)')
          .addHelpText(
            'after',
            '\nFor users of the original s3-webhook server:\n' +
              '  s3relay all --port 80 --address 0.0.0.0 --script ./backup.sh\n' +
              'answers /ping and /webhook like `s3-webhook -port 80 -address 0.0.0.0 -script ./backup.sh`\n' +
              'and runs `./backup.sh <bucket> <key> copy|delete` per event — queued and retried.',
          ),
      ),
    ),
    env,
    's3relay',
    (config, logger) => {
      const broker = sharedBroker(config, logger);
      // The broker starts first and closes last, after both services let go of it.
      return [
        {
          name: 'broker',
          start: () => broker.firstAttempt(),
          close: () => broker.close(),
          isReady: () => broker.connection !== undefined,
        },
        {
          name: 'worker',
          ...bind(createWorker({ config, logger: logger.child({ service: 'worker' }), broker })),
        },
        {
          name: 'ingress',
          ...bind(createIngress({ config, logger: logger.child({ service: 'ingress' }), broker })),
        },
      ];
    },
  );

  return [ingress, worker, all];
}

function bind(component: {
  start(): Promise<void>;
  close(): Promise<void>;
  readonly isReady: boolean;
}) {
  return {
    start: () => component.start(),
    close: () => component.close(),
    isReady: () => component.isReady,
  };
}
