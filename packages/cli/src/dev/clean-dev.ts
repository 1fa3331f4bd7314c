import { existsSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ChannelModel } from 'amqplib';
import type { TopologyNames } from '@s3relay/core/amqp';
import { telemetryExchange } from '@s3relay/core/telemetry';
import { CliError, ExitCode } from '../exit-codes.js';

/** What `s3relay dev --clean` removed. */
export interface CleanReport {
  readonly queues: readonly string[];
  readonly exchanges: readonly string[];
  /** The data directory, when it was there and is gone now. */
  readonly removedDir: string | undefined;
}

/** What `s3relay dev` writes into its data directory (`env` last: it marks the directory). */
const DEV_DATA = ['source', 'backup', 'env'];

/**
 * Removes what `s3relay dev` leaves behind: the queues and the telemetry exchange under its
 * prefix, and its objects and settings in `dataDir`. Refuses (exit 1, nothing removed) while a
 * queue has consumers: a stack still running would lose its work. Only the entries dev itself
 * writes are removed from `dataDir`, and only when its `env` file says dev wrote there, so a
 * mistyped `--data-dir` cannot empty another directory.
 */
export async function cleanDev(
  connection: ChannelModel,
  stack: {
    readonly prefix: string;
    readonly names: TopologyNames;
    /** Queues the services declare besides the topology's (the workers' delete ledger). */
    readonly otherQueues: readonly string[];
    readonly dataDir: string;
  },
): Promise<CleanReport> {
  const { prefix, names, dataDir } = stack;
  const candidates = [names.tasks, ...names.retryTiers.map((tier) => tier.queue)];
  candidates.push(names.dlq, names.held, ...stack.otherQueues);
  const existing: string[] = [];
  for (const queue of candidates) {
    const consumers = await consumersOf(connection, queue);
    if (consumers === undefined) continue;
    if (consumers > 0) {
      throw new CliError(
        ExitCode.problemsFound,
        `${queue} has ${consumers} consumers: the stack is still running; stop it (Ctrl-C in ` +
          'its terminal) and clean again. Nothing was removed.',
      );
    }
    existing.push(queue);
  }
  const channel = await connection.createChannel();
  try {
    for (const queue of existing) await channel.deleteQueue(queue);
  } finally {
    await channel.close();
  }
  const exchange = telemetryExchange(prefix);
  const exchanges = (await deleteExchange(connection, exchange)) ? [exchange] : [];
  return { queues: existing, exchanges, removedDir: await removeDevData(dataDir) };
}

/** The queue's consumer count, or undefined when there is no such queue. */
async function consumersOf(connection: ChannelModel, queue: string): Promise<number | undefined> {
  // A passive check of a missing queue closes its channel (404), hence one channel per check.
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  try {
    return (await channel.checkQueue(queue)).consumerCount;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  } finally {
    await channel.close().catch(() => undefined);
  }
}

async function deleteExchange(connection: ChannelModel, exchange: string): Promise<boolean> {
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  try {
    await channel.checkExchange(exchange);
    await channel.deleteExchange(exchange);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  } finally {
    await channel.close().catch(() => undefined);
  }
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: unknown }).code === 404;
}

/** Removes dev's entries of `dataDir`, then the directory (and `.s3relay` above it) if empty. */
async function removeDevData(dataDir: string): Promise<string | undefined> {
  if (!existsSync(join(dataDir, 'env'))) return undefined;
  for (const entry of DEV_DATA) await rm(join(dataDir, entry), { recursive: true, force: true });
  const removed = await removeEmptyDir(dataDir);
  if (removed && basename(dirname(dataDir)) === '.s3relay') await removeEmptyDir(dirname(dataDir));
  return removed ? dataDir : undefined;
}

async function removeEmptyDir(dir: string): Promise<boolean> {
  try {
    await rmdir(dir);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTEMPTY') return false;
    throw err;
  }
}
