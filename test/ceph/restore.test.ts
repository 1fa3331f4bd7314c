import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteObjectCommand, DeleteObjectsCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { createBucket, deleteBucket } from '../helpers/ceph-buckets.js';
import { eventually } from '../helpers/eventually.js';
import { listAllKeys, putObject } from '../helpers/s3.js';
import { bucketState } from '../faults/observe.js';
import { assertMirrored, startCephBed, type CephBed } from '../support/ceph-bed.js';
import { cli, json } from '../support/cli-run.js';

let bed: CephBed | undefined;
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  await bed?.close();
  bed = undefined;
});

const MiB = 1024 * 1024;

interface RestoreResult {
  readonly write: number;
  readonly delete: number;
  readonly unchanged: number;
  readonly applied: boolean;
  readonly verified: boolean;
}

/** Source times are kept to the second: an instant is taken with a second of quiet around it. */
async function instant(): Promise<Date> {
  await sleep(1100);
  const at = new Date();
  await sleep(1100);
  return at;
}

describe('ceph: point-in-time restore from a versioned backup', () => {
  it('restores three instants of a scripted timeline byte for byte', async () => {
    const current = await startCephBed({ label: 'timeline', versioned: true });
    bed = current;
    await current.startWorker();
    await current.startWorker();
    const keys = Array.from({ length: 16 }, (_, n) => `data/${n % 4}/obj ${n}+ü.bin`);
    const big = ['data/big-1.bin', 'data/big-2.bin'];
    const everything = [...keys, ...big, 'data/late-1.bin', 'data/late-2.bin'];
    const put = (key: string, size = 2000 + Math.floor(Math.random() * 4000)) =>
      putObject(current.source, current.sourceBucket, key, randomBytes(size), {
        ContentType: 'application/x-test',
        Metadata: { round: String(Date.now()) },
      });
    const remove = (key: string) =>
      current.source.send(new DeleteObjectCommand({ Bucket: current.sourceBucket, Key: key }));
    const settle = () =>
      eventually(() => assertMirrored(current, everything), { timeoutMs: 60_000 });
    const states: { at: Date; state: Map<string, string> }[] = [];
    const record = async () => {
      const at = await instant();
      states.push({ at, state: await bucketState(current.source, current.sourceBucket) });
    };

    for (const key of keys) await put(key);
    for (const key of big) await put(key, 11 * MiB);
    await settle();
    await record();

    for (const key of keys.slice(0, 6)) await put(key);
    for (const key of keys.slice(6, 10)) await remove(key);
    await put('data/late-1.bin');
    await put(big[0] ?? '', 12 * MiB);
    await settle();
    await record();

    await put(keys[6] ?? ''); // re-created after its delete
    await put(keys[7] ?? '');
    for (const key of keys.slice(0, 3)) await put(key);
    await remove(keys[12] ?? '');
    await remove(big[1] ?? '');
    await put('data/late-2.bin');
    await settle();
    await record();

    // Later changes, so that no instant is simply the present.
    for (const key of keys.slice(3, 9)) await put(key);
    await remove(keys[13] ?? '');
    await settle();

    for (const [n, { at, state }] of states.entries()) {
      const target = `${current.sourceBucket.slice(0, 40)}-at${n}`;
      await createBucket(current.source, target);
      cleanups.push(() => deleteBucket(current.source, target));
      const run = await cli(
        [
          'restore',
          '--bucket',
          current.sourceBucket,
          '--at',
          at.toISOString(),
          '--to-bucket',
          target,
          '--json',
        ],
        current.env(),
      );
      expect(run.code, run.stderr).toBe(0);
      expect(json<RestoreResult>(run)).toMatchObject({ applied: true, verified: true });
      const restored = await bucketState(current.source, target);
      expect(new Map([...restored].sort()), `instant ${n} (${at.toISOString()})`).toEqual(
        new Map([...state].sort()),
      );
    }
    // Content headers and user metadata come back too (those of the version, not the latest).
    const head = await current.source.send(
      new HeadObjectCommand({ Bucket: `${current.sourceBucket.slice(0, 40)}-at0`, Key: big[0] }),
    );
    expect(head.ContentType).toBe('application/x-test');
    expect(head.ContentLength).toBe(11 * MiB);
    expect(Number(head.Metadata?.round)).toBeLessThan(states[0]?.at.getTime() ?? 0);
  });

  it('undoes a ransomware run in place: every object overwritten, then deleted', async () => {
    const current = await startCephBed({ label: 'ransomware', versioned: true });
    bed = current;
    await current.startWorker();
    await current.startWorker();
    const keys = Array.from({ length: 12 }, (_, n) => `docs/${n}.txt`);
    for (const key of keys)
      await putObject(current.source, current.sourceBucket, key, `doc ${key}`);
    await putObject(current.source, current.sourceBucket, 'docs/video.bin', randomBytes(7 * MiB));
    const all = [...keys, 'docs/video.bin'];
    await eventually(() => assertMirrored(current, all), { timeoutMs: 60_000 });
    const before = await instant();
    const original = await bucketState(current.source, current.sourceBucket);

    for (const key of all) {
      await putObject(current.source, current.sourceBucket, key, randomBytes(64));
    }
    await eventually(() => assertMirrored(current, all), { timeoutMs: 60_000 });
    await current.source.send(
      new DeleteObjectsCommand({
        Bucket: current.sourceBucket,
        Delete: { Objects: all.map((Key) => ({ Key })) },
      }),
    );
    await eventually(() => assertMirrored(current, all), { timeoutMs: 60_000 });
    expect(await listAllKeys(current.backup, current.backupBucket)).toEqual([]);

    const restore = (...extra: string[]) =>
      cli(
        [
          'restore',
          '--bucket',
          current.sourceBucket,
          '--at',
          before.toISOString(),
          '--in-place',
          '--json',
          ...extra,
        ],
        current.env(),
      );
    // Into the source only when told so: there is no terminal to ask here.
    const refused = await restore();
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');
    expect(await listAllKeys(current.source, current.sourceBucket)).toEqual([]);

    const dry = await restore('--dry-run');
    expect(json<RestoreResult>(dry)).toMatchObject({ write: all.length, applied: false });
    const run = await restore('--yes');
    expect(run.code, run.stderr).toBe(0);
    expect(json<RestoreResult>(run)).toMatchObject({ write: all.length, verified: true });
    expect(await bucketState(current.source, current.sourceBucket)).toEqual(original);

    // Run again: every key is already right, nothing is written.
    const again = await restore('--yes');
    expect(json<RestoreResult>(again)).toMatchObject({
      write: 0,
      delete: 0,
      unchanged: all.length,
      applied: false,
    });
    // The restored objects flow back into the backup like any change.
    await eventually(() => assertMirrored(current, all), { timeoutMs: 60_000 });
  });

  it('lists a key history with source times, and refuses an unversioned backup', async () => {
    const versioned = await startCephBed({ label: 'history', versioned: true });
    bed = versioned;
    await versioned.startWorker();
    const key = 'notes/today.txt';
    const settle = () => eventually(() => assertMirrored(versioned, [key]), { timeoutMs: 30_000 });
    const first = await putObject(versioned.source, versioned.sourceBucket, key, 'one');
    await settle();
    await putObject(versioned.source, versioned.sourceBucket, key, 'two, longer');
    await settle();
    await versioned.source.send(
      new DeleteObjectCommand({ Bucket: versioned.sourceBucket, Key: key }),
    );
    await settle();
    const history = await cli(
      ['history', '--bucket', versioned.sourceBucket, '--key', key, '--json'],
      versioned.env(),
    );
    expect(history.code, history.stderr).toBe(0);
    const { versions } = json<{
      versions: { deleteMarker: boolean; size: number; sourceETag?: string; sourceTime: string }[];
    }>(history);
    expect(versions.map((v) => [v.deleteMarker, v.size])).toEqual([
      [true, 0],
      [false, 11],
      [false, 3],
    ]);
    expect(versions[2]?.sourceETag).toBe(first.ETag?.replaceAll('"', ''));
    // A worker writing to a versioned backup does not warn about history.
    expect(versioned.logs().some((line) => /not versioned/.test(String(line.message)))).toBe(false);
    await versioned.close();

    const plain = await startCephBed({ label: 'unversioned' });
    bed = plain;
    const refused = await cli(
      ['restore', '--bucket', plain.sourceBucket, '--at', '1h ago', '--to-bucket', 'x', '--json'],
      plain.env(),
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('is not versioned');
    expect(refused.stderr).toContain('doctor');
  });
});
