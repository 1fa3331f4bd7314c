import { randomBytes } from 'node:crypto';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { drainQueue, queueDepth } from '../helpers/rabbit.js';
import { startS3Proxy, type S3Operation, type S3Proxy } from '../helpers/s3-proxy.js';
import { getObjectBytes, putObject, sha256 } from '../helpers/s3.js';
import {
  BACKUP_BUCKET,
  SOURCE_BUCKET,
  assertBackupMatches,
  eventTask,
  startWorkerBed,
  type WorkerBed,
} from '../support/worker-bed.js';

const MiB = 1024 * 1024;

let bed: WorkerBed;
let sourceProxy: S3Proxy;
let backupProxy: S3Proxy;

beforeEach(async () => {
  bed = await startWorkerBed({ label: 'worker-faults' });
  sourceProxy = await startS3Proxy({ endpoint: bed.source.endpoint });
  backupProxy = await startS3Proxy({ endpoint: bed.backup.endpoint });
});

afterEach(async () => {
  await bed.close();
  await Promise.all([sourceProxy.close(), backupProxy.close()]);
});

/** A worker that talks to both sides through the proxies. */
function startProxiedWorker(overrides: Record<string, string> = {}) {
  return bed.startWorker({
    SOURCE_S3_ENDPOINT: sourceProxy.endpoint,
    DEST_S3_ENDPOINT: backupProxy.endpoint,
    ...overrides,
  });
}

/**
 * A proxied worker whose startup requests are over, with the proxies' records cleared, so that
 * the requests counted next are the tasks' alone. At startup a worker lists each of its buckets
 * (one key) before it takes a task, and reads the backup bucket's versioning once, in the
 * background, and says when the bucket keeps no history (s3rver's never does): that warning
 * marks the read's end.
 */
async function startCountedWorker() {
  await startProxiedWorker();
  const unversioned = () => logsStarting('the backup bucket is not versioned');
  await eventually(() => expect(unversioned()).toHaveLength(1), { timeoutMs: 5000 });
  expect(opsOf(backupProxy).sort()).toEqual(['GetBucketVersioning', 'ListObjectsV2']);
  expect(opsOf(sourceProxy)).toEqual(['ListObjectsV2']);
  sourceProxy.clearOperations();
  backupProxy.clearOperations();
}

function opsOf(proxy: S3Proxy, key?: string): string[] {
  return proxy.operations
    .filter((operation: S3Operation) => key === undefined || operation.key?.endsWith(key))
    .map((operation) => operation.op);
}

function logsWith(message: string) {
  return bed.logs().filter((line) => line.message === message);
}

function logsStarting(words: string) {
  return bed.logs().filter((line) => String(line.message).startsWith(words));
}

describe('worker: requests per object', () => {
  it('copies a small object in 4 requests, skips an unchanged one in 2, deletes in 4 (and a listing)', async () => {
    await startCountedWorker();
    await putObject(bed.source.client, SOURCE_BUCKET, 'small.txt', 'small');
    await bed.publish([eventTask('small.txt', 'created')]);
    await eventually(() => assertBackupMatches(bed, ['small.txt']), { timeoutMs: 10_000 });
    // The recheck HEAD follows the PUT's answer: wait for the task's end, not the object.
    await eventually(() => expect(logsWith('task done')).toHaveLength(1), { timeoutMs: 5000 });
    expect(opsOf(sourceProxy).sort()).toEqual(['GetObject', 'HeadObject']);
    expect(opsOf(backupProxy).sort()).toEqual(['HeadObject', 'PutObject']);

    sourceProxy.clearOperations();
    backupProxy.clearOperations();
    await bed.publish([eventTask('small.txt', 'created')]);
    await eventually(() => expect(logsWith('task done')).toHaveLength(2), { timeoutMs: 5000 });
    expect(opsOf(sourceProxy)).toEqual(['GetObject']);
    expect(opsOf(backupProxy)).toEqual(['HeadObject']);

    sourceProxy.clearOperations();
    backupProxy.clearOperations();
    await bed.source.client.send(
      new DeleteObjectCommand({ Bucket: SOURCE_BUCKET, Key: 'small.txt' }),
    );
    await bed.publish([eventTask('small.txt', 'removed')]);
    await eventually(() => expect(logsWith('task done')).toHaveLength(3), { timeoutMs: 5000 });
    // The listing proves the source bucket exists before the first delete; it is kept a minute.
    expect(opsOf(sourceProxy).sort()).toEqual(['GetObject', 'HeadObject', 'ListObjectsV2']);
    expect(opsOf(backupProxy).sort()).toEqual(['DeleteObject', 'HeadObject']);
    expect(logsWith('task done').map((line) => line.outcome)).toEqual([
      'copied',
      'unchanged',
      'deleted',
    ]);
  });
});

describe('worker: requests per object when a copy is expected', () => {
  it('copies a created small object whose event gives its size in 3 requests, a resync-missing one too', async () => {
    await startCountedWorker();
    await putObject(bed.source.client, SOURCE_BUCKET, 'sized.txt', 'twelve bytes');
    await bed.publish([{ ...eventTask('sized.txt', 'created'), size: 12 }]);
    await eventually(() => expect(logsWith('task done')).toHaveLength(1), { timeoutMs: 10_000 });
    await assertBackupMatches(bed, ['sized.txt']);
    expect(opsOf(sourceProxy).sort()).toEqual(['GetObject', 'HeadObject']);
    expect(opsOf(backupProxy)).toEqual(['PutObject']);

    // A duplicate of that create re-copies instead of comparing: still 3 requests, same bytes.
    sourceProxy.clearOperations();
    backupProxy.clearOperations();
    await bed.publish([{ ...eventTask('sized.txt', 'created'), size: 12 }]);
    await eventually(() => expect(logsWith('task done')).toHaveLength(2), { timeoutMs: 10_000 });
    expect(opsOf(backupProxy)).toEqual(['PutObject']);
    await assertBackupMatches(bed, ['sized.txt']);

    sourceProxy.clearOperations();
    backupProxy.clearOperations();
    await putObject(bed.source.client, SOURCE_BUCKET, 'backfill.txt', 'existing before s3relay');
    await bed.publish([
      { ...eventTask('backfill.txt', 'created'), origin: 'resync', eventName: 'Resync:missing' },
    ]);
    await eventually(() => expect(logsWith('task done')).toHaveLength(3), { timeoutMs: 10_000 });
    await assertBackupMatches(bed, ['backfill.txt']);
    expect(opsOf(backupProxy)).toEqual(['PutObject']);
  });

  it('still compares first when the object turns out larger than its event said, or is gone', async () => {
    await startCountedWorker();
    await putObject(bed.source.client, SOURCE_BUCKET, 'grown.bin', randomBytes(MiB));
    await bed.publish([{ ...eventTask('grown.bin', 'created'), size: 10 }]);
    await eventually(() => expect(logsWith('task done')).toHaveLength(1), { timeoutMs: 10_000 });
    await assertBackupMatches(bed, ['grown.bin']);
    expect(opsOf(backupProxy)).toEqual(['HeadObject', 'PutObject']);

    // Copied already: the duplicate is recognised by the HEAD and nothing is written.
    backupProxy.clearOperations();
    await bed.publish([{ ...eventTask('grown.bin', 'created'), size: 10 }]);
    await eventually(() => expect(logsWith('task done')).toHaveLength(2), { timeoutMs: 10_000 });
    expect(opsOf(backupProxy)).toEqual(['HeadObject']);

    // A create for a key that does not exist (forged, or deleted since) writes and deletes nothing.
    backupProxy.clearOperations();
    await bed.publish([{ ...eventTask('never-there.txt', 'created'), size: 10 }]);
    await eventually(() => expect(logsWith('task done')).toHaveLength(3), { timeoutMs: 10_000 });
    expect(opsOf(backupProxy)).toEqual(['HeadObject']);
    expect(logsWith('task done').map((line) => line.outcome)).toEqual([
      'copied',
      'unchanged',
      'absent',
    ]);
  });
});

describe('worker: concurrent tasks', () => {
  it('a copy of an older version that finishes last is repaired by its recheck', async () => {
    // Two workers, one task at a time each: the two tasks of the key run side by side. The first
    // copy's read of version 1 is held at the proxy until the second copy (of version 2) is done,
    // then let go: it writes version 1 over version 2, sees the source changed, and enqueues the
    // recheck that restores version 2. Events order it, not durations.
    const raceWorker = { WORKER_CONCURRENCY: '1', SOURCE_IDLE_TIMEOUT_MS: '15000' };
    await startProxiedWorker(raceWorker);
    await startProxiedWorker(raceWorker);
    await putObject(bed.source.client, SOURCE_BUCKET, 'race.txt', 'version 1');
    // The first read of the key (version 1) stops after its headers until released.
    sourceProxy.addFault({
      op: 'GetObject',
      key: 'race.txt',
      action: { type: 'stall', afterBytes: 0 },
      times: 1,
    });
    await bed.publish([eventTask('race.txt', 'created')]);
    const [stalled] = await sourceProxy.whenHeld(1);
    await putObject(bed.source.client, SOURCE_BUCKET, 'race.txt', 'version 2, newer');
    await bed.publish([eventTask('race.txt', 'created')]);
    await eventually(() => expect(logsWith('task done')).toHaveLength(1), { timeoutMs: 10_000 });
    expect(sourceProxy.held).toEqual([stalled]);
    sourceProxy.release(stalled);
    await eventually(() => expect(logsWith('task done')).toHaveLength(3), { timeoutMs: 15_000 });
    await assertBackupMatches(bed, ['race.txt']);
    expect(logsWith('source changed while replicating; recheck enqueued')).toHaveLength(1);
    const writes = backupProxy.operations.filter((op) => op.op === 'PutObject');
    expect(writes).toHaveLength(3);
  });
});

describe('worker: failures', () => {
  it('retries UploadParts answered 503 and ends with the right object, no upload left open', async () => {
    await startProxiedWorker();
    const body = randomBytes(20 * MiB);
    await putObject(bed.source.client, SOURCE_BUCKET, 'big.bin', body);
    backupProxy.addFault({ op: 'UploadPart', action: { type: 'status', status: 503 }, times: 3 });
    await bed.publish([eventTask('big.bin', 'created')]);
    await eventually(
      async () => {
        const copy = await getObjectBytes(bed.backup.client, BACKUP_BUCKET, 'mirror/big.bin');
        expect(copy === undefined ? 'absent' : sha256(copy)).toBe(sha256(body));
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const parts = backupProxy.operations.filter((operation) => operation.op === 'UploadPart');
    expect(parts.filter((operation) => operation.status === 503)).toHaveLength(3);
    await eventually(() => expect(backupProxy.openMultipartUploads()).toEqual([]), {
      timeoutMs: 5000,
    });
  });

  it('retries an access-denied source, then parks it with its own code and what to check', async () => {
    await startProxiedWorker();
    await putObject(bed.source.client, SOURCE_BUCKET, 'secret.txt', 'secret');
    sourceProxy.addFault({
      op: 'GetObject',
      action: { type: 'status', status: 403, code: 'AccessDenied' },
    });
    const task = eventTask('secret.txt', 'created');
    await bed.publish([task]);
    await eventually(async () => expect(await queueDepth(bed.url, bed.names.dlq)).toBe(1), {
      timeoutMs: 10_000,
    });
    const [parked] = await drainQueue(bed.url, bed.names.dlq);
    expect(parked?.properties.messageId).toBe(task.id);
    expect(JSON.parse(parked?.content.toString() ?? '{}')).toEqual(task);
    const headers = parked?.properties.headers ?? {};
    // Without s3:ListBucket S3 answers 403 for a missing key too: an absence, not proof of one.
    expect(headers['x-s3relay-error-code']).toBe('RELAY_SOURCE_ACCESS_DENIED');
    expect(String(headers['x-s3relay-error'])).toContain('answered 403 AccessDenied');
    expect(String(headers['x-s3relay-error'])).toContain('s3:ListBucket');
    expect(headers['x-s3relay-attempts']).toBe(4);
    expect(opsOf(sourceProxy, 'secret.txt')).toEqual(Array(4).fill('GetObject'));
    expect(
      await getObjectBytes(bed.backup.client, BACKUP_BUCKET, 'mirror/secret.txt'),
    ).toBeUndefined();
  });

  it('retries a source body cut mid-copy and aborts the multipart upload it had begun', async () => {
    await startProxiedWorker();
    const body = randomBytes(16 * MiB);
    await putObject(bed.source.client, SOURCE_BUCKET, 'cut.bin', body);
    sourceProxy.addFault({
      op: 'GetObject',
      action: { type: 'cut-body', afterBytes: 11 * MiB },
      times: 1,
    });
    await bed.publish([eventTask('cut.bin', 'created')]);
    await eventually(
      async () => {
        const copy = await getObjectBytes(bed.backup.client, BACKUP_BUCKET, 'mirror/cut.bin');
        expect(copy === undefined ? 'absent' : sha256(copy)).toBe(sha256(body));
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    await eventually(() => expect(backupProxy.openMultipartUploads()).toEqual([]), {
      timeoutMs: 5000,
    });
    const states = backupProxy.multipartUploads.map((upload) => upload.state);
    expect(states).toEqual(['aborted', 'completed']);
    const [retry] = logsWith('task failed; retrying later');
    expect(retry?.code).toBe('RELAY_S3_NETWORK');
    // An expected, handled failure: the code, message and cause, no stack traces.
    expect(retry?.error).toMatchObject({ code: 'RELAY_S3_NETWORK' });
    expect(JSON.stringify(retry)).not.toContain('"stack"');
  });

  it('fails a stalled source within SOURCE_IDLE_TIMEOUT_MS, while other keys go on', async () => {
    await startProxiedWorker({ SOURCE_IDLE_TIMEOUT_MS: '1000', WORKER_CONCURRENCY: '2' });
    const stalled = randomBytes(8 * MiB);
    await putObject(bed.source.client, SOURCE_BUCKET, 'stalled.bin', stalled);
    const others = Array.from({ length: 20 }, (_, i) => `other-${i}`);
    for (const key of others) await putObject(bed.source.client, SOURCE_BUCKET, key, key);
    sourceProxy.addFault({
      op: 'GetObject',
      key: 'stalled.bin',
      action: { type: 'stall', afterBytes: MiB },
      times: 2,
    });
    await bed.publish([eventTask('stalled.bin', 'created')]);
    await bed.publish(others.map((key) => eventTask(key, 'created')));
    // The other keys are copied while the stalled one waits for its second retry.
    await eventually(() => assertBackupMatches(bed, others), { timeoutMs: 10_000 });
    await eventually(
      async () => {
        const copy = await getObjectBytes(bed.backup.client, BACKUP_BUCKET, 'mirror/stalled.bin');
        expect(copy === undefined ? 'absent' : sha256(copy)).toBe(sha256(stalled));
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    const retries = logsWith('task failed; retrying later');
    expect(retries.map((line) => line.code)).toEqual(['RELAY_COPY_STALLED', 'RELAY_COPY_STALLED']);
    // Each stalled GET was given up about one idle timeout after it stopped.
    const stalledGets = sourceProxy.operations.filter(
      (operation) => operation.op === 'GetObject' && operation.fault === 'stall',
    );
    expect(stalledGets).toHaveLength(2);
    for (const get of stalledGets) expect(get.durationMs).toBeLessThan(4000);
    await eventually(() => expect(backupProxy.openMultipartUploads()).toEqual([]), {
      timeoutMs: 5000,
    });
  });

  it('releases the source body on every path that does not copy it', async () => {
    await startProxiedWorker();
    await putObject(bed.source.client, SOURCE_BUCKET, 'kept.bin', randomBytes(24 * MiB));
    await putObject(bed.source.client, SOURCE_BUCKET, 'denied.bin', randomBytes(24 * MiB));
    await bed.publish([eventTask('kept.bin', 'created')]);
    await eventually(() => assertBackupMatches(bed, ['kept.bin']), { timeoutMs: 10_000 });
    // A duplicate (backup up to date), and a task whose backup HEAD is refused while its GET
    // already succeeded: neither reads the 24 MiB body (more than socket buffers hold), and neither may leave it hanging.
    backupProxy.addFault({
      op: 'HeadObject',
      key: 'mirror/denied.bin',
      action: { type: 'status', status: 403 },
    });
    await bed.publish([eventTask('kept.bin', 'created'), eventTask('denied.bin', 'created')]);
    await eventually(async () => expect(await queueDepth(bed.url, bed.names.dlq)).toBe(1), {
      timeoutMs: 10_000,
    });
    await eventually(() => expect(logsWith('task done')).toHaveLength(2), { timeoutMs: 5000 });
    const gets = sourceProxy.operations.filter((operation) => operation.op === 'GetObject');
    expect(gets).toHaveLength(3);
    // A response the worker neither read nor destroyed would stay open, its duration unset.
    await eventually(
      () => expect(gets.map((operation) => operation.durationMs >= 0)).toEqual([true, true, true]),
      { timeoutMs: 3000 },
    );
  });

  it('retries through the delay tiers and parks the task after MAX_ATTEMPTS', async () => {
    await startProxiedWorker({ MAX_ATTEMPTS: '3' });
    await putObject(bed.source.client, SOURCE_BUCKET, 'flaky.txt', 'flaky');
    sourceProxy.addFault({ op: 'GetObject', action: { type: 'status', status: 500 } });
    const task = eventTask('flaky.txt', 'created');
    await bed.publish([task]);
    await eventually(async () => expect(await queueDepth(bed.url, bed.names.dlq)).toBe(1), {
      timeoutMs: 20_000,
    });
    const [parked] = await drainQueue(bed.url, bed.names.dlq);
    const headers = parked?.properties.headers ?? {};
    expect(headers['x-s3relay-error-code']).toBe('RELAY_S3_SERVER_ERROR');
    expect(headers['x-s3relay-attempts']).toBe(3);
    expect(headers['x-s3relay-attempt']).toBe(3);
    expect(headers['x-death']).toBeUndefined();
    const first = Date.parse(String(headers['x-s3relay-first-failed-at']));
    const last = Date.parse(String(headers['x-s3relay-last-failed-at']));
    // Two waits in the tiers (200 ms, then 500 ms) lie between the first and the last failure.
    expect(last - first).toBeGreaterThanOrEqual(700);
    expect(JSON.parse(parked?.content.toString() ?? '{}')).toEqual(task);
    // The SDK's own 3 attempts per task attempt, 3 task attempts.
    expect(opsOf(sourceProxy, 'flaky.txt')).toHaveLength(9);
    const retried = logsWith('task failed; retrying later').map((line) => line.queue);
    expect(retried).toEqual([`${bed.prefix}.retry.200ms`, `${bed.prefix}.retry.500ms`]);
  });
});
