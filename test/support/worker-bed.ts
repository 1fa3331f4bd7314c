import { randomUUID } from 'node:crypto';
import { createTask, loadConfig, type Config, type Task } from '@s3relay/core';
import { topologyNames, type TopologyNames } from '@s3relay/core/amqp';
import { createWorker, type Worker } from '@s3relay/worker';
import {
  deleteQueuesWithPrefix,
  publishToQueue,
  rabbitUrl,
  uniquePrefix,
} from '../helpers/rabbit.js';
import { captureLog } from '../helpers/log-capture.js';
import { getObjectBytes, s3Env, startS3Server, type TestS3 } from '../helpers/s3.js';

export const SOURCE_BUCKET = 'source';
export const BACKUP_BUCKET = 'backup';

/** Everything a worker test needs: a source and a backup s3rver, a prefix, workers, tasks. */
export interface WorkerBed {
  readonly url: string;
  readonly prefix: string;
  readonly names: TopologyNames;
  readonly source: TestS3;
  readonly backup: TestS3;
  /** The worker's environment: test defaults, then `overrides`. */
  env(overrides?: Record<string, string>): Record<string, string>;
  config(overrides?: Record<string, string>): Config;
  /** Starts an in-process worker (closed by {@link WorkerBed.close}) logging into {@link logs}. */
  startWorker(overrides?: Record<string, string>): Promise<Worker>;
  /** Every log line of the in-process workers, parsed. */
  logs(): Record<string, unknown>[];
  /** Publishes tasks to the tasks queue (optionally with headers), with confirms. */
  publish(tasks: readonly Task[], headers?: Record<string, unknown>): Promise<void>;
  /** The backup key of a source key under the bed's DEST_PREFIX. */
  backupKey(key: string): string;
  /** Closes the workers, deletes the queues and stops both servers. */
  close(): Promise<void>;
}

export interface WorkerBedOptions {
  /** Part of the AMQP prefix, to tell tests apart in the broker. */
  readonly label: string;
  /** @default 'mirror/' */
  readonly destPrefix?: string;
}

/** Starts the source and backup servers; workers are started by the test. */
export async function startWorkerBed(options: WorkerBedOptions): Promise<WorkerBed> {
  const url = rabbitUrl();
  const prefix = uniquePrefix(options.label);
  const destPrefix = options.destPrefix ?? 'mirror/';
  const [source, backup] = await Promise.all([
    startS3Server({ buckets: [SOURCE_BUCKET] }),
    startS3Server({ buckets: [BACKUP_BUCKET] }),
  ]);
  const retryDelays = '200ms,500ms';
  const names = topologyNames({ prefix, retryDelaysMs: [200, 500] });
  const workers: Worker[] = [];
  const log = captureLog('worker');
  const env = (overrides: Record<string, string> = {}) => ({
    AMQP_URL: url,
    AMQP_PREFIX: prefix,
    RETRY_DELAYS: retryDelays,
    MAX_ATTEMPTS: '4',
    WORKER_CONCURRENCY: '4',
    PART_SIZE_MB: '5',
    PART_QUEUE_SIZE: '2',
    SOURCE_IDLE_TIMEOUT_MS: '2000',
    SHUTDOWN_TIMEOUT_MS: '5000',
    PUBLISH_TIMEOUT_MS: '5000',
    METRICS_PORT: '0',
    LOG_LEVEL: 'debug',
    SOURCE_BUCKETS: SOURCE_BUCKET,
    DEST_BUCKET: BACKUP_BUCKET,
    DEST_PREFIX: destPrefix,
    ...s3Env('SOURCE', source.endpoint),
    ...s3Env('DEST', backup.endpoint),
    ...overrides,
  });
  const config = (overrides?: Record<string, string>) => loadConfig(env(overrides));
  return {
    url,
    prefix,
    names,
    source,
    backup,
    env,
    config,
    async startWorker(overrides) {
      const worker = createWorker({ config: config(overrides), logger: log.logger });
      workers.push(worker);
      await worker.start();
      return worker;
    },
    logs: log.lines,
    async publish(tasks, headers = {}) {
      await publishToQueue(
        url,
        names.tasks,
        tasks.map((task) => ({
          content: JSON.stringify(task),
          options: { messageId: task.id, contentType: 'application/json', headers },
        })),
      );
    },
    backupKey: (key) => destPrefix + key,
    async close() {
      await Promise.allSettled(workers.map((worker) => worker.close()));
      await deleteQueuesWithPrefix(url, prefix).catch(() => undefined);
      await Promise.allSettled([source.close(), backup.close()]);
    },
  };
}

/** A task as the ingress would publish it for an event on `key` of the source bucket. */
export function eventTask(
  key: string,
  event: 'created' | 'removed',
  extra: { bucket?: string } = {},
): Task {
  return createTask({
    origin: 's3',
    eventName: event === 'created' ? 'ObjectCreated:Put' : 'ObjectRemoved:Delete',
    bucket: extra.bucket ?? SOURCE_BUCKET,
    key,
    size: null,
    eTag: null,
    versionId: null,
    // Unique, as a real event's sequencer: every published task is a new event.
    sequencer: randomUUID(),
    eventTime: null,
  });
}

/**
 * Resolves when the backup object of every key equals its source object (both absent counts),
 * and throws naming the first key that differs otherwise; for `eventually`.
 */
export async function assertBackupMatches(bed: WorkerBed, keys: readonly string[]): Promise<void> {
  for (const key of keys) {
    const [expected, actual] = await Promise.all([
      getObjectBytes(bed.source.client, SOURCE_BUCKET, key),
      getObjectBytes(bed.backup.client, BACKUP_BUCKET, bed.backupKey(key)),
    ]);
    if (expected === undefined && actual === undefined) continue;
    if (expected === undefined || actual === undefined || !expected.equals(actual)) {
      throw new Error(
        `backup of ${JSON.stringify(key)} differs: source ${describe(expected)}, backup ${describe(actual)}`,
      );
    }
  }
}

function describe(bytes: Buffer | undefined): string {
  return bytes === undefined ? 'absent' : `${bytes.length} bytes`;
}
