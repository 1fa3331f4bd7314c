import type { ChannelModel } from 'amqplib';
import { TransientError, type Config } from '@s3relay/core';
import { Publisher, type Broker } from '@s3relay/core/amqp';
import type { ConsoleOperations } from '@s3relay/console';
import { s3Failure } from './commands/s3-failure.js';
import { dropDlq, listDlq, replayDlq } from './dlq/dlq-operations.js';
import { matchesFilter } from './dlq/parked-task.js';
import { queueStatuses } from './queue-status.js';
import { runResync } from './sync/resync.js';

/** How long an operation waits for a broker connection before it fails. */
const CONNECT_WAIT_MS = 5000;
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
  // An action asked for just as the console (re)connects waits for the connection a moment.
  const connection = async (): Promise<ChannelModel> => {
    try {
      return await broker.waitConnected(CONNECT_WAIT_MS);
    } catch (err) {
      throw new TransientError(
        'RELAY_AMQP_UNAVAILABLE',
        'the broker is not connected; try again once it is',
        { cause: err },
      );
    }
  };
  return {
    queues: async () => queueStatuses(await connection(), broker.names),
    listDlq: async (limit, onProgress) => {
      const listing = await listDlq(
        await connection(),
        broker.names,
        publisher,
        { limit },
        (scanned) => onProgress({ scanned }),
      );
      return { total: listing.total, entries: listing.entries };
    },
    replayDlq: async (selection, dryRun, onProgress) => {
      const result = await replayDlq(
        await connection(),
        broker.names,
        publisher,
        { ...selection, dryRun },
        (scanned, replayed) => onProgress({ scanned, replayed }),
      );
      return { scanned: result.scanned, matched: result.selected };
    },
    dropDlq: async (selection, dryRun, onProgress) => {
      const result = await dropDlq(
        await connection(),
        broker.names,
        publisher,
        { ...selection, dryRun },
        (scanned, dropped) => onProgress({ scanned, dropped }),
      );
      return { scanned: result.scanned, matched: result.selected };
    },
    matches: matchesFilter,
    resync: async (request, onProgress) => {
      if (!request.dryRun) await connection();
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
