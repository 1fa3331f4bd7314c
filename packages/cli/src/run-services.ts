import closeWithGrace from 'close-with-grace';
import type { Logger } from '@s3relay/core';

/** A long-lived component the CLI starts and stops. */
export interface Service {
  readonly name: string;
  start(): Promise<void>;
  /** Idempotent graceful stop. */
  close(): Promise<void>;
}

export interface RunOptions {
  readonly logger: Logger;
  /** How long in-flight work may take after SIGTERM; the hard exit comes a little later. */
  readonly shutdownTimeoutMs: number;
}

/**
 * Starts the services in order and keeps the process alive until SIGTERM or SIGINT (or an
 * uncaught exception), then closes them in reverse order, each close isolated so one failure
 * does not skip the rest. A second signal exits at once. Unhandled rejections are logged and
 * counted, not fatal: a stray rejection must not drop in-flight webhooks.
 */
export async function runServices(
  services: readonly Service[],
  options: RunOptions,
): Promise<never> {
  const { logger } = options;
  process.on('unhandledRejection', (reason) => {
    logger.error('unhandled rejection', { error: reason });
  });
  const closeAll = async () => {
    for (const service of [...services].reverse()) {
      try {
        await service.close();
        logger.info('service stopped', { service: service.name });
      } catch (err) {
        logger.error('service stop failed', { service: service.name, error: err });
      }
    }
  };
  closeWithGrace(
    {
      delay: options.shutdownTimeoutMs + 5000,
      skip: ['unhandledRejection'],
      logger: {
        error: (message: unknown) => logger.error('shutdown', { detail: String(message) }),
      },
      onSecondSignal: (signal) => {
        logger.warn('second signal, exiting now', { signal });
        process.exit(130);
      },
    },
    async ({ signal, err }) => {
      if (err !== undefined) logger.error('uncaught exception, shutting down', { error: err });
      else logger.info('shutting down', { signal });
      await closeAll();
    },
  );
  try {
    for (const service of services) {
      await service.start();
      // The runtime is part of what an operator compares between two deployments.
      logger.info('service started', { service: service.name, node: process.version });
    }
  } catch (err) {
    logger.error('start failed', { error: err });
    await closeAll();
    process.exit(1);
  }
  return new Promise<never>(() => undefined);
}
