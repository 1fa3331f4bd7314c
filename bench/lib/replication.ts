import { createTask, type Task } from '@s3relay/core';
import { topologyNames } from '@s3relay/core/amqp';
import { AMQP_URL, benchPrefix, deleteQueues, publishTasks } from './broker.js';
import { runBenchScript } from './node-child.js';
import { CpuMeter, memoryOf } from './processes.js';
import { delta, sumOf, type Sample } from './prometheus.js';
import type { S3Server } from './s3-server.js';
import { startWorkers, type TaskDone, type WorkerGroup } from './workers.js';

export const SOURCE_BUCKET = 'source';
export const BACKUP_BUCKET = 'backup';

/** The RETRY_DELAYS the bench workers use (the default's tiers, so cleanup finds their queues). */
const RETRY_DELAYS_MS = [1000, 10_000, 60_000, 600_000, 3_600_000];

/** A task as the ingress would publish it for a created object (VK events carry its size). */
export function createdTask(key: string, index: number, size: number): Task {
  return createTask({
    origin: 'mcs',
    eventName: 'ObjectCreated:Put',
    kind: 'created',
    bucket: SOURCE_BUCKET,
    key,
    size,
    eTag: null,
    versionId: null,
    sequencer: String(index),
    eventTime: null,
  });
}

/** What one pass of tasks through workers measured. */
export interface WorkerRun {
  readonly workers: number;
  readonly concurrency: number;
  readonly objects: number;
  /** From the first publish to the last `task done`, in ms. */
  readonly elapsedMs: number;
  readonly objectsPerSecond: number;
  readonly bytes: number;
  readonly outcomes: Record<string, number>;
  /** CPU seconds per process over the run (`machine`: every process of the machine). */
  readonly cpuSeconds: Record<string, number>;
  /** Sum over the workers of their peak RSS (VmHWM), bytes. */
  readonly peakRssBytes: number;
  /** Sum over the workers of their RSS once consuming, before any task, bytes. */
  readonly idleRssBytes: number;
  /** Each worker's metrics over the run (counters as deltas). */
  readonly metrics: Sample[][];
  readonly problems: readonly string[];
  readonly done: readonly TaskDone[];
}

export interface WorkerRunOptions {
  readonly source: S3Server;
  readonly backup: S3Server;
  readonly workers: number;
  readonly concurrency: number;
  readonly keys: readonly string[];
  /** The size of every object, as the events announce it. */
  readonly objectBytes: number;
  readonly destPrefix: string;
  /** Extra worker variables (PART_SIZE_MB, ACTION, …). */
  readonly env?: Record<string, string>;
  /** Where the workers reach each side (a recording proxy); the servers themselves by default. */
  readonly sourceEndpoint?: string;
  readonly backupEndpoint?: string;
  readonly rabbit: number | undefined;
  readonly timeoutMs: number;
  /** Publishes the tasks (default: one created task per key); resolves once they are queued. */
  readonly enqueue?: (queue: string, env: Record<string, string>) => Promise<void>;
}

/** Starts workers, publishes a task per key, waits until all are done, stops the workers. */
export async function runWorkers(options: WorkerRunOptions): Promise<WorkerRun> {
  const prefix = benchPrefix('repl');
  const queue = topologyNames({ prefix, retryDelaysMs: RETRY_DELAYS_MS }).tasks;
  const env = {
    AMQP_URL,
    AMQP_PREFIX: prefix,
    WORKER_CONCURRENCY: String(options.concurrency),
    SOURCE_BUCKETS: SOURCE_BUCKET,
    DEST_BUCKET: BACKUP_BUCKET,
    DEST_PREFIX: options.destPrefix,
    ...options.source.env('SOURCE', options.sourceEndpoint),
    ...options.backup.env('DEST', options.backupEndpoint),
    ...options.env,
  };
  let group: WorkerGroup | undefined;
  try {
    group = await startWorkers(options.workers, env);
    const before = await group.scrape();
    const idleRssBytes = group.pids.reduce(
      (total, pid) => total + (memoryOf(pid)?.rssBytes ?? 0),
      0,
    );
    const cpu = new CpuMeter({
      workers: group.pids,
      source: options.source.pid,
      backup: options.backup.pid,
      rabbitmq: options.rabbit ?? [],
    });
    cpu.start();
    const started = Date.now();
    if (options.enqueue === undefined) {
      await publishTasks(
        queue,
        options.keys.map((key, index) => createdTask(key, index, options.objectBytes)),
      );
    } else {
      await options.enqueue(queue, env);
    }
    const expected = options.keys.length;
    await group.waitDone(expected, options.timeoutMs);
    const cpuSeconds = cpu.stop();
    const after = await group.scrape();
    const last = Math.max(...group.done.map((entry) => entry.at));
    const elapsedMs = Math.max(1, last - started);
    const outcomes: Record<string, number> = {};
    for (const entry of group.done) outcomes[entry.outcome] = (outcomes[entry.outcome] ?? 0) + 1;
    const metrics = after.map((samples, index) => delta(samples, before[index] ?? []));
    return {
      workers: options.workers,
      concurrency: options.concurrency,
      objects: expected,
      elapsedMs,
      objectsPerSecond: expected / (elapsedMs / 1000),
      bytes: metrics.reduce(
        (total, samples) => total + sumOf(samples, 's3relay_worker_bytes_copied_total'),
        0,
      ),
      outcomes,
      cpuSeconds,
      peakRssBytes: group.pids.reduce(
        (total, pid) => total + (memoryOf(pid)?.peakRssBytes ?? 0),
        0,
      ),
      idleRssBytes,
      metrics,
      problems: group.problems,
      done: group.done,
    };
  } finally {
    await group?.stop();
    await deleteQueues(prefix);
  }
}

/** What the direct copy child measured. */
export interface DirectRun {
  readonly objects: number;
  readonly bytes: number;
  /** Keys copied again after a failed try (a connection reset by a loaded s3rver). */
  readonly retries: number;
  readonly elapsedMs: number;
  readonly cpuSeconds: number;
  readonly maxRssBytes: number;
  readonly concurrency: number;
  readonly objectsPerSecond: number;
  /** CPU seconds of the servers and the machine over the child's life. */
  readonly serverCpuSeconds: Record<string, number>;
}

export interface DirectRunOptions {
  readonly mode: 'get-put' | 'stream';
  readonly source: S3Server;
  readonly backup: S3Server;
  readonly keys: readonly string[];
  readonly destPrefix: string;
  readonly concurrency: number;
  readonly partSizeMb?: number;
  readonly partQueueSize?: number;
  readonly sourceEndpoint?: string;
  readonly backupEndpoint?: string;
}

/** Runs the direct SDK copy loop in a child process. */
export async function runDirect(options: DirectRunOptions): Promise<DirectRun> {
  const cpu = new CpuMeter({ source: options.source.pid, backup: options.backup.pid });
  cpu.start();
  const result = await runBenchScript<
    Omit<DirectRun, 'concurrency' | 'objectsPerSecond' | 'serverCpuSeconds'>
  >('direct-copy', 'direct-copy.ts', [
    JSON.stringify({
      mode: options.mode,
      source: options.sourceEndpoint ?? options.source.endpoint,
      dest: options.backupEndpoint ?? options.backup.endpoint,
      sourceBucket: SOURCE_BUCKET,
      destBucket: BACKUP_BUCKET,
      keys: options.keys,
      destPrefix: options.destPrefix,
      concurrency: options.concurrency,
      partSizeMb: options.partSizeMb,
      partQueueSize: options.partQueueSize,
    }),
  ]);
  return {
    ...result,
    concurrency: options.concurrency,
    objectsPerSecond: result.objects / (result.elapsedMs / 1000),
    serverCpuSeconds: cpu.stop(),
  };
}
