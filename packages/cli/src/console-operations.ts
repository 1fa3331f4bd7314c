import type { ChannelModel } from 'amqplib';
import { TransientError, type Config } from '@s3relay/core';
import { Publisher, type Broker } from '@s3relay/core/amqp';
import type { ConsoleOperations } from '@s3relay/console';
import { s3Failure } from './commands/s3-failure.js';
import { dropDlq, listDlq, replayDlq } from './dlq/dlq-operations.js';
import { matchesFilter } from './dlq/parked-task.js';
import { queueStatuses } from './queue-status.js';
import { runResync } from './sync/resync.js';

/** Keys a console resync compares at once (the CLI's default). */
const RESYNC_CONCURRENCY = 16;

/**
 * The console's operations, done by the modules behind `s3relay status`, `dlq` and `resync`,
 * through the console's own long-lived broker connection.
 */
export function consoleOperations(
  config: Config,
  broker: Broker,
): ConsoleOperations & { close(): Promise<void> } {
  const publisher = new Publisher(broker, {
    timeoutMs: config.amqp.publishTimeoutMs,
    maxInFlight: 10_000,
  });
  const connection = (): ChannelModel => {
    const current = broker.connection;
    if (current === undefined) {
      throw new TransientError('RELAY_AMQP_UNAVAILABLE', 'not connected to the broker');
    }
    return current;
  };
  return {
    queues: () => queueStatuses(connection(), broker.names),
    listDlq: async (limit, onProgress) => {
      const listing = await listDlq(connection(), broker.names, publisher, { limit }, (scanned) =>
        onProgress({ scanned }),
      );
      return { total: listing.total, entries: listing.entries };
    },
    replayDlq: async (selection, dryRun, onProgress) => {
      const result = await replayDlq(
        connection(),
        broker.names,
        publisher,
        { ...selection, dryRun },
        (scanned, replayed) => onProgress({ scanned, replayed }),
      );
      return { scanned: result.scanned, matched: result.replayed };
    },
    dropDlq: async (selection, dryRun, onProgress) => {
      const result = await dropDlq(
        connection(),
        broker.names,
        publisher,
        { ...selection, dryRun },
        (scanned, dropped) => onProgress({ scanned, dropped }),
      );
      return { scanned: result.scanned, matched: result.dropped };
    },
    matches: matchesFilter,
    resync: async (request, onProgress) => {
      try {
        const report = await runResync(
          config,
          { ...request, concurrency: RESYNC_CONCURRENCY, tags: false, onProgress },
          { publisher, queue: broker.names.tasks },
        );
        return {
          ...report,
          differences: report.differences.map(({ key, status }) => ({ key, status })),
        };
      } catch (err) {
        throw s3Failure(err);
      }
    },
    close: () => publisher.close(),
  };
}
