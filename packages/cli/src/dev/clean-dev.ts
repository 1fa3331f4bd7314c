import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ChannelModel } from 'amqplib';
import { telemetryExchange } from '@s3relay/core/telemetry';
import { CliError, ExitCode } from '../exit-codes.js';

/** What `s3relay dev --clean` removed. */
export interface CleanReport {
  readonly queues: readonly string[];
  readonly exchanges: readonly string[];
  /** The data directory, when it was there and is gone now. */
  readonly removedDir: string | undefined;
}

/** The queues of every run of `s3relay dev` with this data directory, one name a line. */
const QUEUES_FILE = 'queues';

/** What `s3relay dev` writes into its data directory (`env` last: it marks the directory). */
const DEV_DATA = ['source', 'backup', QUEUES_FILE, 'env'];

/**
 * Adds `queues` (those a run is about to use) to the record in `dataDir`. Queue names hold
 * settings (the retry tiers RETRY_DELAYS, the delete ledger DELETE_LIMIT), so an earlier run with
 * other settings used other queues, and AMQP has no command that lists queues: `--clean` finds
 * them here.
 */
export async function recordDevQueues(dataDir: string, queues: readonly string[]): Promise<void> {
  const all = new Set([...(await recordedQueues(dataDir)), ...queues]);
  await mkdir(dataDir, { recursive: true });
  await writeFile(join(dataDir, QUEUES_FILE), [...all].map((queue) => `${queue}\n`).join(''));
}

async function recordedQueues(dataDir: string): Promise<string[]> {
  try {
    const text = await readFile(join(dataDir, QUEUES_FILE), 'utf8');
    return text
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/**
 * Removes what `s3relay dev` leaves behind: the queues and the telemetry exchange under its
 * prefix, and its objects and settings in `dataDir`. The queues are those of the current settings
 * and those {@link recordDevQueues} recorded for earlier runs (of `prefix` only: the record is a
 * file anyone could edit). Refuses (exit 1, nothing removed) while a queue has consumers: a stack
 * still running would lose its work. Only the entries dev itself writes are removed from
 * `dataDir`, and only when its `env` file says dev wrote there, so a mistyped `--data-dir` cannot
 * empty another directory.
 */
export async function cleanDev(
  connection: ChannelModel,
  stack: {
    readonly prefix: string;
    /** The queues of the current settings, as {@link recordDevQueues} was given them. */
    readonly queues: readonly string[];
    readonly dataDir: string;
  },
): Promise<CleanReport> {
  const { prefix, dataDir } = stack;
  const recorded = (await recordedQueues(dataDir)).filter((queue) =>
    queue.startsWith(`${prefix}.`),
  );
  const candidates = [...new Set([...stack.queues, ...recorded])];
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
