/**
 * Wipe 4 of issue 11, "no limit on deletes": a burst of deletes above DELETE_LIMIT, every object
 * really gone from the source, reaches two workers. The fleet deletes at most the limit (plus
 * the ledger's tolerance of one per worker, packages/worker/src/delete-ledger.ts) and holds the
 * rest in `<prefix>.held` with the reason, for an operator to release or drop.
 */
import { TaskHeaders } from '@s3relay/core';
import type { Worker } from '@s3relay/worker';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { peekQueue, queueDepth } from '../helpers/rabbit.js';
import { startS3Proxy, type S3Proxy } from '../helpers/s3-proxy.js';
import { getObjectBytes, listAllKeys, putObject } from '../helpers/s3.js';
import { cli, json } from '../support/cli-run.js';
import {
  BACKUP_BUCKET,
  SOURCE_BUCKET,
  eventTask,
  startWorkerBed,
  type WorkerBed,
} from '../support/worker-bed.js';

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

async function startWorkers(overrides: Record<string, string>): Promise<Worker[]> {
  const workers: Worker[] = [];
  for (let i = 0; i < WORKERS; i += 1) {
    workers.push(await bed.startWorker({ DEST_S3_ENDPOINT: backupProxy.endpoint, ...overrides }));
  }
  return workers;
}

interface HeldEntry {
  readonly messageId: string;
  readonly task: { readonly key: string };
  readonly code: string;
  readonly reason: string;
  readonly heldAt: string;
}

async function heldList(): Promise<HeldEntry[]> {
  const run = await cli(['held', 'list', '--json'], bed.env());
  expect(run.code).toBe(0);
  return json<{ entries: HeldEntry[] }>(run).entries;
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
    // The operator sees them, with why and when.
    const listed = await heldList();
    expect(listed.map((entry) => entry.task.key).sort()).toEqual([...held].sort());
    for (const entry of listed) {
      expect(entry.code).toBe('RELAY_DELETE_LIMIT_REACHED');
      expect(entry.reason).toMatch(/^DELETE_LIMIT 5\/1h reached/);
      expect(Number.isNaN(Date.parse(entry.heldAt))).toBe(false);
    }
    const human = await cli(['held', 'list'], bed.env());
    expect(human.stdout).toContain(`${held.length} deletes held in ${bed.prefix}.held`);
    expect(human.stdout).toContain('RELAY_DELETE_LIMIT_REACHED');
    const status = await cli(['status', '--json'], bed.env());
    expect(
      json<{ queues: { role: string; queue: string; messages: number }[] }>(status).queues,
    ).toContainEqual(expect.objectContaining({ role: 'held', messages: held.length }));
    const statusText = await cli(['status'], bed.env());
    expect(statusText.stdout).toContain(
      `${held.length} backup deletes held (DELETE_LIMIT reached)`,
    );
    // Listing left them where they were.
    expect(await queueDepth(bed.url, bed.names.held)).toBe(held.length);
    // One warning per worker that tripped, not one per held delete.
    const trips = bed
      .logs()
      .filter((line) => line.message === 'delete breaker tripped; holding backup deletes');
    expect(trips.length).toBeGreaterThanOrEqual(1);
    expect(trips.length).toBeLessThanOrEqual(WORKERS);
    expect(trips[0]).toMatchObject({ level: 'warn', code: 'RELAY_DELETE_LIMIT_REACHED' });
  });

  it('release runs held deletes through the source check and the breaker again; drop forgets them', async () => {
    const burst = keys(10);
    await seedBackup(burst);
    const first = await startWorkers({ DELETE_LIMIT: '2/1h' });
    await bed.publish(burst.map((key) => eventTask(key, 'removed')));
    await settled(burst.length);
    const deletedFirst = deletesSent().length;
    const held = await heldList();
    expect(held).toHaveLength(burst.length - deletedFirst);

    // Released while the window is still used up: each is held again, nothing more deleted.
    const early = await cli(['held', 'release', '--all', '--yes'], bed.env());
    expect(early.code).toBe(0);
    expect(early.stdout).toContain(`released ${held.length} of ${held.length} held deletes`);
    await settled(burst.length);
    expect(deletesSent()).toHaveLength(deletedFirst);
    const heldAgain = await heldList();
    expect(heldAgain.map((entry) => entry.task.key).sort()).toEqual(
      held.map((entry) => entry.task.key).sort(),
    );

    // The operator raises the limit (a new ledger, an empty window); meanwhile one object came
    // back to the source, and one held delete is dropped.
    for (const worker of first) await worker.close();
    await startWorkers({ DELETE_LIMIT: '100/1h' });
    const [back, dropped, ...rest] = heldAgain;
    if (back === undefined || dropped === undefined) throw new Error('too few held deletes');
    await putObject(bed.source.client, SOURCE_BUCKET, back.task.key, 'back again');

    const dryDrop = await cli(['held', 'drop', '--id', dropped.messageId, '--dry-run'], bed.env());
    expect(dryDrop.stdout).toContain('would drop 1 of');
    expect(await queueDepth(bed.url, bed.names.held)).toBe(heldAgain.length);
    const drop = await cli(['held', 'drop', '--id', dropped.messageId, '--yes'], bed.env());
    expect(drop.code).toBe(0);
    expect((await heldList()).map((entry) => entry.messageId)).not.toContain(dropped.messageId);

    const dryRelease = await cli(['held', 'release', '--all', '--dry-run'], bed.env());
    expect(dryRelease.stdout).toContain(`would release ${rest.length + 1} of`);
    expect(await queueDepth(bed.url, bed.names.held)).toBe(rest.length + 1);
    const release = await cli(['held', 'release', '--all', '--yes'], bed.env());
    expect(release.code).toBe(0);
    await eventually(
      async () => {
        expect(await queueDepth(bed.url, bed.names.held)).toBe(0);
        expect(deletesSent()).toHaveLength(deletedFirst + rest.length);
      },
      { timeoutMs: 20_000, message: 'the released deletes executed' },
    );
    // The object that came back is copied, not deleted; the dropped delete's backup stays.
    await eventually(
      async () => {
        const bytes = await getObjectBytes(
          bed.backup.client,
          BACKUP_BUCKET,
          bed.backupKey(back.task.key),
        );
        expect(bytes?.toString()).toBe('back again');
      },
      { timeoutMs: 10_000 },
    );
    expect(deletesSent()).not.toContain(bed.backupKey(back.task.key));
    expect(
      (
        await getObjectBytes(bed.backup.client, BACKUP_BUCKET, bed.backupKey(dropped.task.key))
      )?.toString(),
    ).toBe(`backup of ${dropped.task.key}`);
    const remaining = await listAllKeys(bed.backup.client, BACKUP_BUCKET);
    expect(remaining.sort()).toEqual(
      [bed.backupKey(back.task.key), bed.backupKey(dropped.task.key)].sort(),
    );
  });

  it('release and drop without --all or --id are usage errors, and drop asks first', async () => {
    for (const verb of ['release', 'drop']) {
      const run = await cli(['held', verb], bed.env());
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`say which held deletes to ${verb}: --all or --id <id...>`);
    }
    // No terminal to ask on: refused unless --yes.
    const unasked = await cli(['held', 'drop', '--all'], bed.env());
    expect(unasked.code).toBe(2);
    expect(unasked.stderr).toContain('pass --yes');
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
