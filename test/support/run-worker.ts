/**
 * Runs one worker in this process, for tests that need it in a child process (peak memory,
 * crashes, signals). Started by {@link spawnWorker} as
 * `node --conditions=source --import tsx test/support/run-worker.ts` with the worker's
 * configuration in the environment. It plays the CLI's part: SIGTERM closes the worker
 * gracefully and exits 0.
 *
 * Over IPC it sends `{ type: 'ready', metricsPort }` once consuming and `{ type: 'closed' }` after
 * a graceful close, and answers `{ type: 'memory' }` with the peak resident set size seen so far:
 * `process.resourceUsage().maxRSS` (the kernel's high-water mark) and the highest 20 ms sample
 * of `process.memoryUsage().rss`.
 */
import { createLogger, loadConfig, serializeError } from '@s3relay/core';
import { createWorker } from '@s3relay/worker';

/** Messages this process sends to its parent. */
export type WorkerChildMessage =
  | { readonly type: 'ready'; readonly metricsPort: number | undefined }
  | { readonly type: 'closed' }
  | { readonly type: 'memory'; readonly maxRssBytes: number; readonly sampledPeakRssBytes: number }
  | { readonly type: 'failed'; readonly error: string };

function send(message: WorkerChildMessage): void {
  process.send?.(message);
}

let sampledPeakRssBytes = process.memoryUsage.rss();
setInterval(() => {
  sampledPeakRssBytes = Math.max(sampledPeakRssBytes, process.memoryUsage.rss());
}, 20).unref();

process.on('message', (message: { type?: string }) => {
  if (message.type === 'memory') {
    send({
      type: 'memory',
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      sampledPeakRssBytes,
    });
  }
});

const config = loadConfig(process.env);
const logger = createLogger({ level: config.log.level, format: 'json', service: 'worker' });
const worker = createWorker({ config, logger });

process.once('SIGTERM', () => {
  worker.close().then(
    () => {
      send({ type: 'closed' });
      process.disconnect?.();
      process.exit(0);
    },
    (err: unknown) => {
      logger.error('close failed', { error: serializeError(err) });
      process.exit(1);
    },
  );
});

try {
  await worker.start();
  send({ type: 'ready', metricsPort: worker.metricsPort });
} catch (err) {
  logger.error('worker failed to start', { error: serializeError(err) });
  send({ type: 'failed', error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}
