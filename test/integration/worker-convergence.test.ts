/**
 * Four workers against a source that keeps changing: creates, overwrites and deletes of 500 keys,
 * their events duplicated, shuffled and some held back until after newer ones. However the
 * tasks interleave, the backup must end equal to the source, key by key and byte by byte.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import type { Task } from '@s3relay/core';
import type { Worker } from '@s3relay/worker';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { queueDepth } from '../helpers/rabbit.js';
import { startS3Proxy, type S3Proxy } from '../helpers/s3-proxy.js';
import { listAllKeys, putObject } from '../helpers/s3.js';
import {
  BACKUP_BUCKET,
  SOURCE_BUCKET,
  assertBackupMatches,
  eventTask,
  startWorkerBed,
  type WorkerBed,
} from '../support/worker-bed.js';

const KEYS = 500;
const OPERATIONS = 1500;
const MUTATORS = 8;
const HOT_KEYS = 20;
const MiB = 1024 * 1024;

let bed: WorkerBed;
let sourceProxy: S3Proxy;

beforeEach(async () => {
  bed = await startWorkerBed({ label: 'worker-convergence' });
  sourceProxy = await startS3Proxy({ endpoint: bed.source.endpoint });
});

afterEach(async () => {
  await bed.close();
  await sourceProxy.close();
});

/** Publishes events late, twice and out of order, as webhooks arrive. */
class UnrulyEvents {
  readonly #pending: Task[] = [];
  readonly #late = new Set<Promise<void>>();
  #published = 0;

  constructor(readonly bed: WorkerBed) {}

  get published(): number {
    return this.#published;
  }

  add(task: Task): void {
    const copies = Math.random() < 0.2 ? 2 : 1;
    for (let copy = 0; copy < copies; copy += 1) {
      if (Math.random() < 0.1) {
        // Held back a random while, likely past newer events of the same key (an old create
        // arriving after a later overwrite or delete): an input; convergence holds in any order.
        const late = new Promise<void>((resolve) => setTimeout(resolve, randomInt(300, 1500))).then(
          () => this.#publish([task]),
        );
        this.#late.add(late);
        void late.finally(() => this.#late.delete(late));
      } else {
        this.#pending.push(task);
      }
    }
  }

  /** Publishes what is pending, shuffled. */
  async flush(): Promise<void> {
    const batch = this.#pending.splice(0);
    for (let i = batch.length - 1; i > 0; i -= 1) {
      const j = randomInt(i + 1);
      [batch[i], batch[j]] = [batch[j] as Task, batch[i] as Task];
    }
    await this.#publish(batch);
  }

  async drain(): Promise<void> {
    await this.flush();
    while (this.#late.size > 0) await Promise.all([...this.#late]);
  }

  async #publish(tasks: Task[]): Promise<void> {
    if (tasks.length === 0) return;
    this.#published += tasks.length;
    await this.bed.publish(tasks);
  }
}

async function inFlight(workers: readonly Worker[]): Promise<number> {
  let total = 0;
  for (const worker of workers) {
    const gauge = await worker.registry.getSingleMetric('s3relay_worker_tasks_in_flight')?.get();
    total += gauge?.values[0]?.value ?? 0;
  }
  return total;
}

describe('worker: convergence', () => {
  it(
    '4 workers end with the backup equal to the source after 1,500 unruly changes of 500 keys',
    { timeout: 120_000 },
    async () => {
      const workers = await Promise.all(
        Array.from({ length: 4 }, () => bed.startWorker({ WORKER_CONCURRENCY: '8' })),
      );
      const keys = Array.from({ length: KEYS }, (_, i) => `set/${String(i).padStart(3, '0')}.bin`);
      const events = new UnrulyEvents(bed);
      const flusher = setInterval(() => void events.flush(), 50);

      let remaining = OPERATIONS;
      const mutate = async () => {
        while (remaining > 0) {
          remaining -= 1;
          // A few hot keys change again while their earlier copies are still running.
          const key =
            keys[Math.random() < 0.3 ? randomInt(HOT_KEYS) : randomInt(keys.length)] ?? '';
          if (Math.random() < 0.3) {
            await bed.source.client.send(
              new DeleteObjectCommand({ Bucket: SOURCE_BUCKET, Key: key }),
            );
            events.add(eventTask(key, 'removed'));
          } else {
            // Mostly small objects, a few above the part size (multipart), some empty.
            const roll = Math.random();
            const size =
              roll < 0.01 ? 5 * MiB + randomInt(MiB) : roll < 0.05 ? 0 : randomInt(1, 16 * 1024);
            await putObject(bed.source.client, SOURCE_BUCKET, key, randomBytes(size));
            events.add(eventTask(key, 'created'));
          }
        }
      };
      await Promise.all(Array.from({ length: MUTATORS }, mutate));
      clearInterval(flusher);
      await events.drain();

      const queues = [bed.names.tasks, ...bed.names.retryTiers.map((tier) => tier.queue)];
      await eventually(
        async () => {
          for (const queue of queues) expect(await queueDepth(bed.url, queue), queue).toBe(0);
          expect(await inFlight(workers)).toBe(0);
          await assertBackupMatches(bed, keys);
        },
        { timeoutMs: 60_000, intervalMs: 1000, message: 'backup equal to source' },
      );
      const sourceKeys = await listAllKeys(bed.source.client, SOURCE_BUCKET);
      const backupKeys = await listAllKeys(bed.backup.client, BACKUP_BUCKET);
      expect(backupKeys.sort()).toEqual(sourceKeys.map((key) => bed.backupKey(key)).sort());
      expect(sourceKeys.length).toBeGreaterThan(0);
      expect(await queueDepth(bed.url, bed.names.dlq)).toBe(0);
      const rechecks = bed
        .logs()
        .filter((line) => line.message === 'source changed while replicating; recheck enqueued');
      // Sources changed under running copies: the recheck path was exercised, not only the easy one.
      expect(rechecks.length).toBeGreaterThan(0);
      const done = bed.logs().filter((line) => line.message === 'task done');
      expect(done.length).toBeGreaterThanOrEqual(events.published);
    },
  );
});
