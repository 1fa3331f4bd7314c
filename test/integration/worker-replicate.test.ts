import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, DeleteObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { PROVENANCE_ETAG, PROVENANCE_LAST_MODIFIED } from '@s3relay/worker';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { drainQueue, publishToQueue, queueDepth } from '../helpers/rabbit.js';
import { getObjectBytes, putObject, sha256 } from '../helpers/s3.js';
import {
  BACKUP_BUCKET,
  SOURCE_BUCKET,
  assertBackupMatches,
  eventTask,
  startWorkerBed,
  type WorkerBed,
} from '../support/worker-bed.js';

let bed: WorkerBed;

beforeEach(async () => {
  bed = await startWorkerBed({ label: 'worker-replicate' });
});

afterEach(async () => {
  await bed.close();
});

describe('worker: replication', () => {
  it('copies a new object with its content headers, user metadata and provenance', async () => {
    await bed.startWorker();
    const put = await putObject(bed.source.client, SOURCE_BUCKET, 'docs/report.txt', 'quarterly', {
      ContentType: 'text/plain; charset=utf-8',
      ContentEncoding: 'identity',
      ContentDisposition: 'attachment; filename="report.txt"',
      CacheControl: 'max-age=60',
      Metadata: { owner: 'finance' },
    });
    await bed.publish([eventTask('docs/report.txt', 'created')]);
    await eventually(() => assertBackupMatches(bed, ['docs/report.txt']), { timeoutMs: 10_000 });
    const head = await bed.backup.client.send(
      new HeadObjectCommand({ Bucket: BACKUP_BUCKET, Key: 'mirror/docs/report.txt' }),
    );
    expect(head.ContentType).toBe('text/plain; charset=utf-8');
    expect(head.ContentEncoding).toBe('identity');
    expect(head.ContentDisposition).toBe('attachment; filename="report.txt"');
    expect(head.CacheControl).toBe('max-age=60');
    expect(head.Metadata?.owner).toBe('finance');
    expect(head.Metadata?.[PROVENANCE_ETAG]).toBe(put.ETag?.replaceAll('"', ''));
    expect(head.Metadata?.[PROVENANCE_LAST_MODIFIED]).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/,
    );
  });

  it('replicates create, overwrite, delete and re-create of a key', async () => {
    await bed.startWorker();
    const key = 'cycle.bin';
    const step = async (change: () => Promise<unknown>, event: 'created' | 'removed') => {
      await change();
      await bed.publish([eventTask(key, event)]);
      await eventually(() => assertBackupMatches(bed, [key]), { timeoutMs: 10_000 });
    };
    await step(() => putObject(bed.source.client, SOURCE_BUCKET, key, 'one'), 'created');
    await step(() => putObject(bed.source.client, SOURCE_BUCKET, key, 'two, longer'), 'created');
    await step(
      () => bed.source.client.send(new DeleteObjectCommand({ Bucket: SOURCE_BUCKET, Key: key })),
      'removed',
    );
    expect(
      await getObjectBytes(bed.backup.client, BACKUP_BUCKET, 'mirror/cycle.bin'),
    ).toBeUndefined();
    await step(() => putObject(bed.source.client, SOURCE_BUCKET, key, 'three'), 'created');
    expect(
      (await getObjectBytes(bed.backup.client, BACKUP_BUCKET, 'mirror/cycle.bin'))?.toString(),
    ).toBe('three');
  });

  it('converges under duplicates and reversed order, and a forged delete deletes nothing', async () => {
    await bed.startWorker();
    const done = (key?: string) =>
      bed
        .logs()
        .filter((line) => line.message === 'task done' && (key === undefined || line.key === key));
    await putObject(bed.source.client, SOURCE_BUCKET, 'a', 'final a');
    await putObject(bed.source.client, SOURCE_BUCKET, 'b', 'b');
    // a: an old delete event arrives before the create, which arrives twice.
    // c: never existed: a forged create and a forged delete.
    await bed.publish([
      eventTask('a', 'removed'),
      eventTask('a', 'created'),
      eventTask('a', 'created'),
      eventTask('b', 'created'),
      eventTask('c', 'created'),
      eventTask('c', 'removed'),
    ]);
    await eventually(() => expect(done()).toHaveLength(6), { timeoutMs: 10_000 });
    await assertBackupMatches(bed, ['a', 'b', 'c']);
    expect(await getObjectBytes(bed.backup.client, BACKUP_BUCKET, 'mirror/c')).toBeUndefined();

    // b is overwritten (two events for it) and then deleted; the delete's event overtakes a
    // late create event.
    await putObject(bed.source.client, SOURCE_BUCKET, 'b', 'b, overwritten');
    await bed.publish([eventTask('b', 'created'), eventTask('b', 'created')]);
    await eventually(() => expect(done()).toHaveLength(8), { timeoutMs: 10_000 });
    await assertBackupMatches(bed, ['b']);
    await bed.source.client.send(new DeleteObjectCommand({ Bucket: SOURCE_BUCKET, Key: 'b' }));
    await bed.publish([eventTask('b', 'removed'), eventTask('b', 'created')]);
    await eventually(() => expect(done()).toHaveLength(10), { timeoutMs: 10_000 });
    await assertBackupMatches(bed, ['b']);

    // A forged delete for a key whose source exists: the backup stays as it is.
    const before = await getObjectBytes(bed.backup.client, BACKUP_BUCKET, 'mirror/a');
    expect(before?.toString()).toBe('final a');
    await bed.publish([eventTask('a', 'removed')]);
    await eventually(() => expect(done()).toHaveLength(11), { timeoutMs: 10_000 });
    expect(await getObjectBytes(bed.backup.client, BACKUP_BUCKET, 'mirror/a')).toEqual(before);
    expect(done('a').map((line) => line.outcome)).toEqual([
      'copied',
      'unchanged',
      'unchanged',
      'unchanged',
    ]);
    expect(done('b').map((line) => line.outcome)).toEqual([
      'copied',
      'copied',
      'unchanged',
      'deleted',
      'absent',
    ]);
    expect(done('c').map((line) => line.outcome)).toEqual(['absent', 'absent']);
  });

  it('copies objects of 0 B, 1 B, 5 MiB ± 1 and 64 MiB (multipart) byte for byte', async () => {
    await bed.startWorker();
    const mib = 1024 * 1024;
    const sizes = [0, 1, 5 * mib - 1, 5 * mib, 5 * mib + 1, 64 * mib];
    const bodies = new Map(sizes.map((size) => [`size/${size}`, randomBytes(size)]));
    for (const [key, body] of bodies) await putObject(bed.source.client, SOURCE_BUCKET, key, body);
    await bed.publish([...bodies.keys()].map((key) => eventTask(key, 'created')));
    await eventually(
      async () => {
        for (const [key, body] of bodies) {
          const copy = await getObjectBytes(bed.backup.client, BACKUP_BUCKET, `mirror/${key}`);
          expect(copy === undefined ? 'absent' : sha256(copy), key).toBe(sha256(body));
        }
      },
      { timeoutMs: 45_000, intervalMs: 500 },
    );
  });

  it('copies keys with spaces, +, %, unicode, ../ and 1,024 bytes to exactly prefix + key', async () => {
    await bed.startWorker({ DEST_PREFIX: '' });
    // s3rver stores keys as paths: a 1,024-byte key needs a "/" at least every 255 bytes.
    const longKey = Array.from({ length: 8 }, (_, i) => `${i}`.repeat(127)).join('/');
    expect(Buffer.byteLength(longKey)).toBe(1023);
    const keys = [
      'with space.txt',
      'plus+sign.txt',
      'percent%20literal.txt',
      'ünïcødé/日本語.txt',
      'dir/../dots.txt',
      `${longKey}x`,
    ];
    expect(Buffer.byteLength(keys[5] ?? '')).toBe(1024);
    for (const key of keys)
      await putObject(bed.source.client, SOURCE_BUCKET, key, `body of ${key}`);
    await bed.publish(keys.map((key) => eventTask(key, 'created')));
    await eventually(
      async () => {
        for (const key of keys) {
          const copy = await getObjectBytes(bed.backup.client, BACKUP_BUCKET, key);
          expect(copy?.toString(), key).toBe(`body of ${key}`);
        }
      },
      { timeoutMs: 15_000 },
    );
  });

  it('dead-letters a backup key over 1,024 bytes, and an invalid task, at once with the reason', async () => {
    await bed.startWorker();
    const key = 'k'.repeat(1020);
    await bed.publish([eventTask(key, 'created')]);
    await publishToQueue(bed.url, bed.names.tasks, [
      { content: '{"v":1,"id":"nope"}', options: { messageId: 'bad-1' } },
      { content: 'not json', options: { messageId: 'bad-2' } },
    ]);
    await eventually(async () => expect(await queueDepth(bed.url, bed.names.dlq)).toBe(3), {
      timeoutMs: 10_000,
    });
    const parked = await drainQueue(bed.url, bed.names.dlq);
    const codes = parked.map(
      (message) => message.properties.headers?.['x-s3relay-error-code'] as unknown,
    );
    expect(codes.sort()).toEqual([
      'RELAY_COPY_KEY_TOO_LONG',
      'RELAY_TASK_INVALID',
      'RELAY_TASK_INVALID',
    ]);
    const invalid = parked.find((message) => message.properties.messageId === 'bad-2');
    expect(invalid?.content.toString()).toBe('not json');
    expect(invalid?.properties.headers?.['x-s3relay-attempts']).toBe(1);
    expect(String(invalid?.properties.headers?.['x-s3relay-error'])).toContain('not JSON');
    expect(await queueDepth(bed.url, bed.names.tasks)).toBe(0);
  });

  it('parks the tasks of a source bucket whose {bucket} backup bucket is missing, naming it, until it exists', async () => {
    // No SOURCE_BUCKETS: the startup check cannot name this backup bucket; the first task does.
    await bed.startWorker({ SOURCE_BUCKETS: '', DEST_BUCKET: '{bucket}-copy' });
    await putObject(bed.source.client, SOURCE_BUCKET, 'one.txt', 'one');
    await putObject(bed.source.client, SOURCE_BUCKET, 'two.txt', 'two');
    await bed.publish([eventTask('one.txt', 'created'), eventTask('two.txt', 'created')]);
    await eventually(async () => expect(await queueDepth(bed.url, bed.names.dlq)).toBe(2), {
      timeoutMs: 10_000,
    });
    for (const parked of await drainQueue(bed.url, bed.names.dlq)) {
      const headers = parked.properties.headers ?? {};
      expect(headers['x-s3relay-error-code']).toBe('RELAY_S3_NO_SUCH_BUCKET');
      expect(headers['x-s3relay-attempts']).toBe(1);
      expect(String(headers['x-s3relay-error'])).toContain(
        `backup bucket "${SOURCE_BUCKET}-copy" (DEST_BUCKET) at ${bed.backup.endpoint}: no such bucket there`,
      );
    }

    // A failed check is not kept for long: once the bucket exists, its tasks are copied.
    await bed.backup.client.send(new CreateBucketCommand({ Bucket: `${SOURCE_BUCKET}-copy` }));
    const copied = async () =>
      (
        await getObjectBytes(bed.backup.client, `${SOURCE_BUCKET}-copy`, bed.backupKey('one.txt'))
      )?.toString();
    // Published again until one lands after the failed check has expired.
    await eventually(
      async () => {
        await bed.publish([eventTask('one.txt', 'created')]);
        await eventually(async () => expect(await copied()).toBe('one'), { timeoutMs: 2000 });
      },
      { timeoutMs: 20_000 },
    );
  });

  it('answers /healthz, /readyz and /metrics, and stops being ready on close', async () => {
    const worker = await bed.startWorker();
    await putObject(bed.source.client, SOURCE_BUCKET, 'm', 'metrics');
    await bed.publish([eventTask('m', 'created')]);
    await eventually(() => assertBackupMatches(bed, ['m']), { timeoutMs: 10_000 });
    const base = `http://127.0.0.1:${worker.metricsPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('s3relay_worker_tasks_total{outcome="copied"} 1');
    expect(metrics).toContain('s3relay_worker_bytes_copied_total 7');
    expect(metrics).toMatch(/s3relay_worker_replication_lag_seconds_count 1/);
    expect(metrics).toMatch(/s3relay_worker_copy_duration_seconds_count 1/);
    expect(metrics).toContain('s3relay_worker_tasks_in_flight 0');
    expect(metrics).toContain('process_resident_memory_bytes');
    expect(worker.isReady).toBe(true);
    await worker.close();
    expect(worker.isReady).toBe(false);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
});
