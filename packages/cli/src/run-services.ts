import closeWithGrace from 'close-with-grace';
import type { Logger } from '@s3relay/core';
import { startFailure } from './start-failure.js';

/** A long-lived component the CLI starts and stops. */
export interface Service {
  readonly name: string;
  start(): Promise<void>;
  /** Idempotent graceful stop. */
  close(): Promise<void>;
  /** False while started but not able to do its work (the ingress before the broker is up). */
  isReady?(): boolean;
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
 *
 * When a service cannot start, the ones started are closed and it is thrown as one line with
 * the exit code that says why (see {@link startFailure}).
 */
export async function runServices(
  services: readonly Service[],
  options: RunOptions,
): Promise<never> {
  const { logger } = options;
  process.on('unhandledRejection', (reason) => {
    logger.error('unhandled rejection', { error: reason });
  });
  const closeAll = async (reportStopped = true) => {
    for (const service of [...services].reverse()) {
      try {
        await service.close();
        if (reportStopped) logger.info('service stopped', { service: service.name });
      } catch (err) {
        logger.error('service stop failed', { service: service.name, error: err });
      }
    }
  };
  const grace = closeWithGrace(
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
  for (const service of services) {
    try {
      await service.start();
    } catch (err) {
      logger.debug('start failed', { service: service.name, error: err });
      // Its exit handler would close everything again and exit with 0.
      grace.uninstall();
      await closeAll(false);
      throw startFailure(service.name, err);
    }
    // The runtime is part of what an operator compares between two deployments.
    const meta = { service: service.name, node: process.version };
    if (service.isReady?.() === false) {
      logger.warn('service waiting for the broker', meta);
    } else {
      logger.info('service started', meta);
    }
  }
  return new Promise<never>(() => undefined);
}
