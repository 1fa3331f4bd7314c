/* global process, setInterval */
/**
 * Runs one worker in this process, for tests that need it in a child process (peak memory,
 * crashes, signals). Plain JavaScript so that it can run the built packages without a TypeScript
 * loader in the way of the memory measurement:
 *
 * - from the sources: `node --conditions=source --import tsx test/support/run-worker.mjs`
 * - from the build:   `node test/support/run-worker.mjs` (after `tsc -b packages/worker`)
 *
 * The worker's configuration comes from the environment. It plays the CLI's part: SIGTERM closes
 * the worker gracefully and exits 0. Over IPC (see worker-process.ts for the message types) it
 * sends `ready` once consuming, `closed` after a graceful close, and answers `memory` with its
 * peak resident set size: VmHWM from /proc/self/status (the kernel's high-water mark of this
 * process image; `process.resourceUsage().maxRSS` would include the parent's RSS at fork) and
 * the highest 20 ms sample of `process.memoryUsage.rss()`.
 */
import { readFileSync } from 'node:fs';
import { createLogger, loadConfig, serializeError } from '@s3relay/core';
import { createWorker } from '@s3relay/worker';

/** @param {Record<string, unknown>} message */
function send(message) {
  process.send?.(message);
}

let sampledPeakRssBytes = process.memoryUsage.rss();
setInterval(() => {
  sampledPeakRssBytes = Math.max(sampledPeakRssBytes, process.memoryUsage.rss());
}, 20).unref();

/** The kernel's peak RSS of this process in bytes, or the sampled peak where /proc is absent. */
function peakRssBytes() {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match?.[1] !== undefined) return Number(match[1]) * 1024;
  } catch {
    // Not Linux.
  }
  return sampledPeakRssBytes;
}

process.on('message', (/** @type {{ type?: string }} */ message) => {
  if (message.type === 'memory') {
    send({ type: 'memory', peakRssBytes: peakRssBytes(), sampledPeakRssBytes });
  }
});

const config = loadConfig(process.env);
const logger = createLogger({ level: config.log.level, format: 'json', service: 'worker' });
const worker = createWorker({ config, logger });

process.once('SIGTERM', () => {
  worker.close().then(
    () => {
      send({ type: 'closed' });
      process.exit(0);
    },
    (/** @type {unknown} */ err) => {
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
