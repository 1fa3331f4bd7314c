import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { listAllKeys, putObject } from '../helpers/s3.js';
import { assertMirrored, startCephBed, viewObject, type CephBed } from '../support/ceph-bed.js';

let bed: CephBed | undefined;

afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

const MiB = 1024 * 1024;

/** A key of exactly 1,024 UTF-8 bytes (S3's limit), with multi-byte letters in it. */
const LONGEST_KEY = (() => {
  const head = 'long/ключ-';
  return head + 'k'.repeat(1024 - Buffer.byteLength(head, 'utf8'));
})();

const KEYS = [
  'plain.txt',
  'dir/with space.txt',
  'plus+sign+and space.txt',
  'percent%20not-an-escape%.txt',
  'unicode/ключ-日本語-☃.txt',
  LONGEST_KEY,
];

/** Every origin the in-process workers logged for their tasks. */
function taskOrigins(current: CephBed): Set<unknown> {
  return new Set(
    current
      .logs()
      .filter((line) => line.message === 'task done')
      .map((line) => line.origin),
  );
}

describe('ceph: real bucket notifications through the pipeline to another account', () => {
  it('replicates creates, overwrites, deletes and multi-object deletes of awkward keys', async () => {
    const current = await startCephBed({ label: 'pipeline' });
    bed = current;
    await current.startWorker();
    await current.startWorker();
    expect(Buffer.byteLength(LONGEST_KEY, 'utf8')).toBe(1024);

    for (const [n, key] of KEYS.entries()) {
      await putObject(current.source, current.sourceBucket, key, `first ${n}`);
    }
    await eventually(() => assertMirrored(current, KEYS), { timeoutMs: 30_000 });

    await putObject(current.source, current.sourceBucket, KEYS[1] ?? '', 'overwritten, longer');
    await putObject(current.source, current.sourceBucket, LONGEST_KEY, 'overwritten');
    await current.source.send(
      new DeleteObjectCommand({ Bucket: current.sourceBucket, Key: KEYS[2] }),
    );
    await current.source.send(
      new DeleteObjectsCommand({
        Bucket: current.sourceBucket,
        Delete: { Objects: [{ Key: KEYS[3] }, { Key: KEYS[4] }] },
      }),
    );
    await eventually(() => assertMirrored(current, KEYS), { timeoutMs: 30_000 });

    const backupKeys = await listAllKeys(current.backup, current.backupBucket);
    expect(backupKeys.sort()).toEqual([KEYS[0], KEYS[1], LONGEST_KEY].sort());
    // The tasks came from Ceph's own notifications (nothing else publishes to this bed's queue).
    expect(taskOrigins(current)).toEqual(new Set(['ceph']));
  });

  it('copies a multipart object of 3 parts with its content headers and metadata byte for byte', async () => {
    const current = await startCephBed({ label: 'multipart' });
    bed = current;
    await current.startWorker();
    const key = 'media/video clip+1.bin';
    const parts = [Buffer.alloc(5 * MiB, 1), Buffer.alloc(5 * MiB, 2), Buffer.alloc(1000, 3)];
    await uploadInParts(current.source, current.sourceBucket, key, parts, {
      ContentType: 'video/mp4; codecs="avc1.42E01E, mp4a.40.2"',
      ContentEncoding: 'identity',
      ContentDisposition: `attachment; filename="clip 1.mp4"; filename*=UTF-8''%E2%98%83.mp4`,
      ContentLanguage: 'de-CH, en',
      CacheControl: 'private, max-age=600, no-transform',
      Expires: new Date('2031-02-03T04:05:06Z'),
      Metadata: {
        Owner: 'Media Team',
        'x-spaces': 'two  inner  spaces',
        'quoted-value': '"a=b; c, d"',
        encoded: '=?UTF-8?B?w6TDtsO8?=',
      },
    });
    const sourceHead = await current.source.send(
      new HeadObjectCommand({ Bucket: current.sourceBucket, Key: key }),
    );
    expect(sourceHead.ETag).toMatch(/-3"$/);

    await eventually(() => assertMirrored(current, [key]), { timeoutMs: 60_000 });
    const view = await viewObject(current.backup, current.backupBucket, key);
    expect(view).toMatchObject({
      size: 10 * MiB + 1000,
      contentType: 'video/mp4; codecs="avc1.42E01E, mp4a.40.2"',
      contentDisposition: `attachment; filename="clip 1.mp4"; filename*=UTF-8''%E2%98%83.mp4`,
      cacheControl: 'private, max-age=600, no-transform',
      metadata: {
        owner: 'Media Team',
        'x-spaces': 'two  inner  spaces',
        'quoted-value': '"a=b; c, d"',
        encoded: '=?UTF-8?B?w6TDtsO8?=',
      },
    });
    // Copied as a multipart upload of its own (PART_SIZE_MB=5): three parts again.
    const backupHead = await current.backup.send(
      new HeadObjectCommand({ Bucket: current.backupBucket, Key: key }),
    );
    expect(backupHead.ETag).toMatch(/-3"$/);
  });
});

async function uploadInParts(
  client: S3Client,
  bucket: string,
  key: string,
  parts: readonly Buffer[],
  headers: Omit<
    ConstructorParameters<typeof CreateMultipartUploadCommand>[0],
    'Bucket' | 'Key'
  > = {},
): Promise<void> {
  const created = await client.send(
    new CreateMultipartUploadCommand({ ...headers, Bucket: bucket, Key: key }),
  );
  const completed = [];
  for (const [index, body] of parts.entries()) {
    const part = await client.send(
      new UploadPartCommand({
        Bucket: bucket,
        Key: key,
        UploadId: created.UploadId,
        PartNumber: index + 1,
        Body: body,
      }),
    );
    completed.push({ ETag: part.ETag, PartNumber: index + 1 });
  }
  await client.send(
    new CompleteMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      UploadId: created.UploadId,
      MultipartUpload: { Parts: completed },
    }),
  );
}
