import { randomBytes } from 'node:crypto';
import {
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { openUploads } from '../helpers/ceph-buckets.js';
import { eventually } from '../helpers/eventually.js';
import { peekQueue, rabbitUrl } from '../helpers/rabbit.js';
import { getObjectBytes, putObject } from '../helpers/s3.js';
import { assertMirrored, startCephBed, type CephBed } from '../support/ceph-bed.js';
import { cli, json } from '../support/cli-run.js';

let bed: CephBed | undefined;

afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

const MiB = 1024 * 1024;

interface VerifyResult {
  readonly inSync: boolean;
  readonly missing: number;
  readonly different: number;
  readonly extra: number;
  readonly differences: { key: string; status: string; reason?: string }[];
}

describe('ceph: multipart uploads left open', () => {
  it('the worker aborts a failed multipart copy, and janitor aborts what a killed worker left', async () => {
    const current = await startCephBed({
      label: 'abort',
      destPrefix: 'mirror/',
      proxy: { backup: true },
    });
    bed = current;
    const proxy = current.backupProxy;
    if (proxy === undefined) throw new Error('no proxy');
    // The backup refuses the second part: a permanent failure in the middle of the upload.
    proxy.addFault({
      op: 'UploadPart',
      key: 'mirror/big.bin',
      action: { type: 'status', status: 403 },
    });
    await current.startWorker();
    await putObject(current.source, current.sourceBucket, 'big.bin', randomBytes(11 * MiB));
    const dlq = `${current.ingress.prefix}.dlq`;
    await eventually(async () => expect(await peekQueue(rabbitUrl(), dlq)).toHaveLength(1), {
      timeoutMs: 30_000,
      message: 'the failed copy parked',
    });
    // Ceph itself lists no open upload: the worker's AbortMultipartUpload reached it.
    expect(await openUploads(current.backup, current.backupBucket)).toEqual([]);
    const aborts = proxy.operations.filter((op) => op.op === 'AbortMultipartUpload');
    expect(aborts.map((op) => op.status)).toEqual([204]);

    // What a killed worker leaves: an upload with a part, inside DEST_PREFIX; and one outside it.
    const left = await openUpload(current, 'mirror/left-behind.bin');
    const outside = await openUpload(current, 'elsewhere/not-ours.bin');
    const janitor = (olderThan: string) =>
      cli(['janitor', '--older-than', olderThan, '--json'], current.env());
    const young = await janitor('1h');
    expect(young.code, young.stderr).toBe(0);
    expect(json<{ open: number; aborted: unknown[] }>(young)).toMatchObject({
      open: 1,
      aborted: [],
    });
    const old = await janitor('0s');
    expect(old.code, old.stderr).toBe(0);
    expect(json<{ aborted: { key: string; uploadId: string }[] }>(old).aborted).toEqual([
      expect.objectContaining({ key: 'mirror/left-behind.bin', uploadId: left }),
    ]);
    expect(await openUploads(current.backup, current.backupBucket)).toEqual([
      { key: 'elsewhere/not-ours.bin', uploadId: outside },
    ]);
  });
});

describe('ceph: resync and verify between the two accounts', () => {
  it('backfills with resync, and verify --deep tells bytes apart that provenance cannot', async () => {
    const current = await startCephBed({ label: 'resync', notifications: false });
    bed = current;
    // Names whose UTF-8 byte order differs from their UTF-16 order and from a locale's: the
    // listings of both accounts are merged by byte order.
    const names = ['a', 'B', 'z', 'Ä', 'ß', 'é', '日本', '☃', '😀', '+', '%41', ' space'];
    const keys = names.map((name, n) => `existing/${name} ${n}.bin`);
    for (const key of keys) {
      await putObject(
        current.source,
        current.sourceBucket,
        key,
        randomBytes(1000 + keys.indexOf(key)),
      );
    }
    await putObject(
      current.source,
      current.sourceBucket,
      'existing/large.bin',
      randomBytes(6 * MiB),
    );
    const all = [...keys, 'existing/large.bin'];
    const verify = (...flags: string[]) =>
      cli(['verify', '--bucket', current.sourceBucket, '--json', ...flags], current.env());

    const empty = await verify();
    expect(empty.code).toBe(1);
    expect(json<VerifyResult>(empty)).toMatchObject({ missing: all.length, inSync: false });

    await current.startWorker();
    const resync = await cli(['resync', '--bucket', current.sourceBucket, '--json'], current.env());
    expect(resync.code, resync.stderr).toBe(0);
    expect(json<{ enqueued: number }>(resync).enqueued).toBe(all.length);
    await eventually(() => assertMirrored(current, all), { timeoutMs: 60_000 });
    const deep = await verify('--deep');
    expect(deep.code, deep.stdout).toBe(0);

    // Same size, same provenance metadata, other bytes: only --deep can see it.
    const victim = keys[3] ?? '';
    const head = await current.backup.send(
      new HeadObjectCommand({ Bucket: current.backupBucket, Key: victim }),
    );
    const original = await getObjectBytes(current.backup, current.backupBucket, victim);
    const forged = Buffer.from(original ?? Buffer.alloc(0)).reverse();
    await putObject(current.backup, current.backupBucket, victim, forged, {
      Metadata: head.Metadata,
    });
    expect((await verify()).code).toBe(0);
    const caught = await verify('--deep');
    expect(caught.code).toBe(1);
    expect(json<VerifyResult>(caught).differences).toEqual([
      { key: victim, status: 'different', reason: 'content' },
    ]);
  });
});

describe('ceph: a versioned backup', () => {
  it('keeps noncurrent versions and delete markers, and verify compares current versions only', async () => {
    const current = await startCephBed({ label: 'versions', versioned: true });
    bed = current;
    await current.startWorker();
    const step = async (change: () => Promise<unknown>) => {
      await change();
      await eventually(() => assertMirrored(current, ['doc.txt', 'gone.txt']), {
        timeoutMs: 30_000,
      });
    };
    const put = (key: string, body: string) =>
      putObject(current.source, current.sourceBucket, key, body);
    await step(() => put('doc.txt', 'version one'));
    await step(() => put('gone.txt', 'short-lived'));
    await step(() => put('doc.txt', 'version two'));
    await step(() =>
      current.source.send(
        new DeleteObjectCommand({ Bucket: current.sourceBucket, Key: 'gone.txt' }),
      ),
    );

    const listed = await current.backup.send(
      new ListObjectVersionsCommand({ Bucket: current.backupBucket }),
    );
    const bodies = async (key: string) =>
      Promise.all(
        (listed.Versions ?? [])
          .filter((version) => version.Key === key)
          .map(async (version) => ({
            latest: version.IsLatest,
            body: (await getObjectVersion(current, key, version.VersionId ?? '')).toString('utf8'),
          })),
      );
    const doc = await bodies('doc.txt');
    expect(doc).toContainEqual({ latest: true, body: 'version two' });
    expect(doc).toContainEqual({ latest: false, body: 'version one' });
    const gone = await bodies('gone.txt');
    expect(gone.map((version) => version.body)).toContain('short-lived');
    expect(gone.every((version) => version.latest === false)).toBe(true);
    expect(
      (listed.DeleteMarkers ?? []).filter((marker) => marker.Key === 'gone.txt' && marker.IsLatest),
    ).toHaveLength(1);

    for (const flags of [[], ['--deep']]) {
      const verify = await cli(
        ['verify', '--bucket', current.sourceBucket, '--json', ...flags],
        current.env(),
      );
      expect(verify.code, verify.stdout).toBe(0);
      expect(json<VerifyResult>(verify)).toMatchObject({ missing: 0, different: 0, extra: 0 });
    }
  });
});

async function openUpload(current: CephBed, key: string): Promise<string> {
  const created = await current.backup.send(
    new CreateMultipartUploadCommand({ Bucket: current.backupBucket, Key: key }),
  );
  await current.backup.send(
    new UploadPartCommand({
      Bucket: current.backupBucket,
      Key: key,
      UploadId: created.UploadId,
      PartNumber: 1,
      Body: randomBytes(5 * MiB),
    }),
  );
  return created.UploadId ?? '';
}

async function getObjectVersion(current: CephBed, key: string, versionId: string) {
  const response = await current.backup.send(
    new GetObjectCommand({ Bucket: current.backupBucket, Key: key, VersionId: versionId }),
  );
  return Buffer.from(
    await (response.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}
