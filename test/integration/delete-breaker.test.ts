/**
 * Wipe 4 of issue 11, "no limit on deletes": a burst of deletes above DELETE_LIMIT, every object
 * really gone from the source, reaches two workers. The fleet deletes at most the limit (plus
 * the ledger's tolerance of one per worker, packages/worker/src/delete-ledger.ts) and holds the
 * rest in `<prefix>.held` with the reason, for an operator to release or drop.
 */
import { TaskHeaders } from '@s3relay/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { peekQueue, queueDepth } from '../helpers/rabbit.js';
import { startS3Proxy, type S3Proxy } from '../helpers/s3-proxy.js';
import { getObjectBytes, listAllKeys, putObject } from '../helpers/s3.js';
import { BACKUP_BUCKET, eventTask, startWorkerBed, type WorkerBed } from '../support/worker-bed.js';

const WORKERS = 2;

let bed: WorkerBed;
/** In front of the backup: every DeleteObject a worker sends passes here. */
let backupProxy: S3Proxy;

beforeEach(async () => {
  bed = await startWorkerBed({ label: 'delete-breaker' });
  backupProxy = await startS3Proxy({ endpoint: bed.backup.endpoint });
});

afterEach(async () => {
  await bed.close();
  await backupProxy.close();
});

const keys = (count: number) => Array.from({ length: count }, (_, i) => `gone/${i}`);

/** Backup objects as earlier replication left them; their source objects are gone. */
async function seedBackup(sourceKeys: readonly string[]): Promise<void> {
  for (const key of sourceKeys) {
    await putObject(bed.backup.client, BACKUP_BUCKET, bed.backupKey(key), `backup of ${key}`);
  }
}

function deletesSent(): string[] {
  return backupProxy.operations
    .filter((op) => op.op === 'DeleteObject' && op.status === 204)
    .map((op) => op.key ?? '');
}

async function startWorkers(overrides: Record<string, string>): Promise<void> {
  for (let i = 0; i < WORKERS; i += 1) {
    await bed.startWorker({ DEST_S3_ENDPOINT: backupProxy.endpoint, ...overrides });
  }
}

/** The keys of the held deletes, from the held queue (left in place). */
async function heldKeys(): Promise<string[]> {
  const held = await peekQueue(bed.url, bed.names.held);
  return held.map((message) => (JSON.parse(message.content.toString()) as { key: string }).key);
}

/** Waits until every one of `count` published deletes was either executed or held. */
async function settled(count: number): Promise<void> {
  await eventually(
    async () => {
      expect(deletesSent().length + (await queueDepth(bed.url, bed.names.held))).toBe(count);
      expect(await queueDepth(bed.url, bed.names.tasks)).toBe(0);
    },
    { timeoutMs: 30_000, intervalMs: 100, message: 'every delete executed or held' },
  );
}

describe('the delete breaker (DELETE_LIMIT)', () => {
  it('with two workers, a burst of 30 deletes above 5/1h deletes at most the limit plus one per worker and holds the rest with the reason', async () => {
    const burst = keys(30);
    await seedBackup(burst);
    await startWorkers({ DELETE_LIMIT: '5/1h' });
    await bed.publish(burst.map((key) => eventTask(key, 'removed')));
    await settled(burst.length);

    const deleted = deletesSent();
    expect(deleted.length).toBeGreaterThanOrEqual(5);
    expect(deleted.length).toBeLessThanOrEqual(5 + WORKERS);
    // No delete was both executed and held, and none was lost.
    const held = await heldKeys();
    expect(held).toHaveLength(burst.length - deleted.length);
    expect([...held.map((key) => bed.backupKey(key)), ...deleted].sort()).toEqual(
      burst.map((key) => bed.backupKey(key)).sort(),
    );
    // What is held is still in the backup.
    const remaining = await listAllKeys(bed.backup.client, BACKUP_BUCKET);
    expect(remaining.sort()).toEqual(held.map((key) => bed.backupKey(key)).sort());
    // Each held delete says why.
    for (const message of await peekQueue(bed.url, bed.names.held)) {
      const headers = message.properties.headers ?? {};
      expect(headers[TaskHeaders.heldCode]).toBe('RELAY_DELETE_LIMIT_REACHED');
      expect(String(headers[TaskHeaders.heldReason])).toMatch(/^DELETE_LIMIT 5\/1h reached/);
    }
    // One warning per worker that tripped, not one per held delete.
    const trips = bed
      .logs()
      .filter((line) => line.message === 'delete breaker tripped; holding backup deletes');
    expect(trips.length).toBeGreaterThanOrEqual(1);
    expect(trips.length).toBeLessThanOrEqual(WORKERS);
    expect(trips[0]).toMatchObject({ level: 'warn', code: 'RELAY_DELETE_LIMIT_REACHED' });
  });

  it('DELETE_LIMIT=0 deletes nothing and holds nothing', async () => {
    const burst = keys(6);
    await seedBackup(burst);
    await startWorkers({ DELETE_LIMIT: '0' });
    await bed.publish(burst.map((key) => eventTask(key, 'removed')));
    await eventually(
      () => {
        const done = bed.logs().filter((line) => line.message === 'task done');
        expect(done.filter((line) => line.outcome === 'absent')).toHaveLength(burst.length);
      },
      { timeoutMs: 20_000, message: 'every task done' },
    );
    expect(deletesSent()).toEqual([]);
    expect(await queueDepth(bed.url, bed.names.held)).toBe(0);
    for (const key of burst) {
      expect(
        (await getObjectBytes(bed.backup.client, BACKUP_BUCKET, bed.backupKey(key)))?.toString(),
      ).toBe(`backup of ${key}`);
    }
  });
});
