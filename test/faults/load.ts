import { createHash, randomBytes, randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SourceWrite } from './ledger.js';

const MiB = 1024 * 1024;

export interface LoadOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** How long changes keep coming. */
  readonly durationMs: number;
  /** Changes started per second (small objects). */
  readonly opsPerSecond: number;
  /**
   * Keys the small changes pick from: a fixed set of this many (creates, overwrites and deletes
   * of the same keys), or, when absent, new keys plus overwrites and deletes of existing ones.
   */
  readonly keySpace?: number;
  /** Share of small changes that delete an existing key. @default 0.15 */
  readonly deleteShare?: number;
  /** Objects above the part size, spread over the duration; each is a multipart copy. */
  readonly bigObjects?: number;
  /** Size range of those, in MiB. @default [12, 20] */
  readonly bigSizeMiB?: readonly [number, number];
  /** How many times each big object is overwritten later (a copy racing a newer version). */
  readonly bigOverwrites?: number;
  /** Keys `poison/<n>` written once at the start; the backup refuses them. */
  readonly poison?: number;
  /** Changes in flight at once (one per key at a time). @default 8 */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
}

export interface LoadResult {
  /** Every change made, in the order each key saw them. */
  readonly writes: readonly SourceWrite[];
  readonly poisoned: readonly string[];
  readonly bigKeys: readonly string[];
}

/**
 * Changes the source bucket for a while, as users would: small objects created, overwritten and
 * deleted at a steady rate, a few large ones, and poisoned keys. Changes to one key never
 * overlap, so the writes list is the key's true history. Any failed change fails the load (the
 * source is not under test).
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const writes: SourceWrite[] = [];
  const busy = new Set<string>();
  const existing = new Set<string>();
  const concurrency = options.concurrency ?? 8;
  const deleteShare = options.deleteShare ?? 0.15;
  const [minBig, maxBig] = options.bigSizeMiB ?? [12, 20];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let fresh = 0;

  const put = async (key: string, body: Buffer) => {
    const startedAt = Date.now();
    const output = await options.client.send(
      new PutObjectCommand({
        Bucket: options.bucket,
        Key: key,
        Body: body,
        ContentType: 'application/octet-stream',
      }),
    );
    const eTag = (output.ETag ?? '').replace(/"/g, '');
    const sha256 = createHash('sha256').update(body).digest('hex');
    writes.push({ key, kind: 'put', sha256, eTag, startedAt, doneAt: Date.now() });
    existing.add(key);
  };
  const remove = async (key: string) => {
    const startedAt = Date.now();
    await options.client.send(new DeleteObjectCommand({ Bucket: options.bucket, Key: key }));
    writes.push({ key, kind: 'delete', startedAt, doneAt: Date.now() });
    existing.delete(key);
  };
  const launch = (key: string, change: () => Promise<void>) => {
    busy.add(key);
    const work = change()
      .catch((err: unknown) => {
        failure ??= err;
      })
      .finally(() => {
        busy.delete(key);
        inFlight.delete(work);
      });
    inFlight.add(work);
  };
  const small = () => randomBytes(randomInt(1, 32 * 1024));
  const big = () => randomBytes(randomInt(minBig * MiB, maxBig * MiB + 1));

  const poisoned = Array.from({ length: options.poison ?? 0 }, (_, n) => `poison/${n}`);
  for (const key of poisoned) launch(key, () => put(key, small()));

  // Big objects: created at even intervals, then overwritten, while the small changes go on.
  const bigKeys = Array.from({ length: options.bigObjects ?? 0 }, (_, n) => `big/${n}`);
  const bigChanges = bigKeys.flatMap((key, n) =>
    Array.from({ length: 1 + (options.bigOverwrites ?? 0) }, (_, version) => ({
      key,
      at:
        ((n + version * bigKeys.length + 0.5) /
          (bigKeys.length * (1 + (options.bigOverwrites ?? 0)))) *
        options.durationMs,
    })),
  );
  bigChanges.sort((a, b) => a.at - b.at);

  const started = Date.now();
  const intervalMs = 1000 / options.opsPerSecond;
  let next = started;
  while (Date.now() - started < options.durationMs && failure === undefined) {
    if (options.signal?.aborted === true) break;
    const due = bigChanges[0];
    if (due !== undefined && Date.now() - started >= due.at && !busy.has(due.key)) {
      bigChanges.shift();
      launch(due.key, () => put(due.key, big()));
    }
    if (inFlight.size >= concurrency) {
      await Promise.race(inFlight);
      continue;
    }
    const key = pickKey();
    if (key !== undefined) {
      const doDelete = existing.has(key) && Math.random() < deleteShare;
      launch(key, doDelete ? () => remove(key) : () => put(key, small()));
    }
    next += intervalMs;
    const wait = next - Date.now();
    if (wait > 0) await sleep(wait);
  }
  // Big changes not yet made still are: the scenario counts on them.
  for (const change of bigChanges) {
    while (busy.has(change.key)) await Promise.race(inFlight);
    launch(change.key, () => put(change.key, big()));
  }
  await Promise.all(inFlight);
  if (failure !== undefined) {
    throw failure instanceof Error ? failure : new Error('the load failed', { cause: failure });
  }
  return { writes, poisoned, bigKeys };

  /** A key that has no change in flight: from the fixed set, or a new or existing one. */
  function pickKey(): string | undefined {
    for (let tries = 0; tries < 10; tries += 1) {
      let key: string;
      if (options.keySpace !== undefined) {
        key = `storm/${randomInt(options.keySpace)}`;
      } else if (existing.size > 0 && Math.random() < 0.4) {
        const keys = [...existing].filter((candidate) => candidate.startsWith('k/'));
        key = keys.length === 0 ? `k/${fresh++}` : (keys[randomInt(keys.length)] ?? `k/${fresh++}`);
      } else {
        // Now and then a key that needs encoding in the event record (space, `+`, `%`, UTF-8).
        const n = fresh++;
        key = n % 7 === 3 ? `k/${n} ключ+%.bin` : `k/${n}`;
      }
      if (!busy.has(key)) return key;
    }
    return undefined;
  }
}
