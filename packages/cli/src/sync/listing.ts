import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { normalizeETag } from '@s3relay/core/s3';
import { CliError, ExitCode } from '../exit-codes.js';

/** One object of a listing, its key relative to the listed prefix's root. */
export interface ListedObject {
  readonly key: string;
  readonly size: number;
  readonly eTag: string;
  readonly lastModified: Date;
}

/**
 * Every object under `prefix`, page by page (bounded memory), with `stripPrefix` removed from the
 * keys. Thrown when the store does not list in UTF-8 byte order, since the comparison of two
 * listings relies on it (S3 guarantees it; a non-conforming store must not make resync enqueue
 * deletes for objects it merely listed out of order).
 */
export async function* listObjects(
  client: S3Client,
  bucket: string,
  prefix: string,
  stripPrefix: string,
  signal?: AbortSignal,
): AsyncGenerator<ListedObject> {
  let continuationToken: string | undefined;
  let previous: Buffer | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix === '' ? undefined : prefix,
        ContinuationToken: continuationToken,
        MaxKeys: 1000,
      }),
      { abortSignal: signal },
    );
    for (const object of page.Contents ?? []) {
      if (object.Key === undefined || !object.Key.startsWith(stripPrefix)) continue;
      const raw = Buffer.from(object.Key, 'utf8');
      if (previous !== undefined && Buffer.compare(previous, raw) >= 0) {
        // A problem of the store, not of the network: retrying later would not help.
        throw new CliError(
          ExitCode.problemsFound,
          `bucket "${bucket}" listed "${object.Key}" out of UTF-8 byte order; refusing to compare listings`,
        );
      }
      previous = raw;
      yield {
        key: object.Key.slice(stripPrefix.length),
        size: object.Size ?? 0,
        eTag: normalizeETag(object.ETag ?? ''),
        lastModified: object.LastModified ?? new Date(0),
      };
    }
    continuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (continuationToken !== undefined);
}

/** One key of the merged listings of source and backup. */
export interface KeyPair {
  readonly key: string;
  readonly source: ListedObject | undefined;
  readonly backup: ListedObject | undefined;
}

/** Compares keys the way S3 orders them: by their UTF-8 bytes. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Walks two sorted listings side by side (a merge join), so buckets of any size are compared with
 * two pages in memory.
 */
export async function* mergeListings(
  source: AsyncIterator<ListedObject>,
  backup: AsyncIterator<ListedObject>,
): AsyncGenerator<KeyPair> {
  for await (const { key, left, right } of joinByKey(source, backup)) {
    yield { key, source: left, backup: right };
  }
}

/** Two streams in S3 key order walked side by side: each key once, with what each side has. */
export async function* joinByKey<L extends { key: string }, R extends { key: string }>(
  lefts: AsyncIterator<L>,
  rights: AsyncIterator<R>,
): AsyncGenerator<{ key: string; left: L | undefined; right: R | undefined }> {
  let l = await lefts.next();
  let r = await rights.next();
  while (l.done !== true || r.done !== true) {
    const order =
      l.done === true ? 1 : r.done === true ? -1 : compareKeys(l.value.key, r.value.key);
    if (order === 0 && l.done !== true && r.done !== true) {
      yield { key: l.value.key, left: l.value, right: r.value };
      [l, r] = await Promise.all([lefts.next(), rights.next()]);
    } else if (order < 0 && l.done !== true) {
      yield { key: l.value.key, left: l.value, right: undefined };
      l = await lefts.next();
    } else if (r.done !== true) {
      yield { key: r.value.key, left: undefined, right: r.value };
      r = await rights.next();
    }
  }
}
