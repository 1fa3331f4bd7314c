import { MAX_KEY_BYTES } from '../task.js';

/**
 * Where a source object goes in the backup: `DEST_BUCKET` and `DEST_PREFIX` with `{bucket}`
 * expanded to the source bucket, then the source key. The worker writes there, and `resync`,
 * `verify`, `janitor` and every later tool (a restore) read there, all through these functions.
 *
 * Naming must never give two source objects one backup key, or an event of one source bucket
 * would overwrite or delete the backup of another's object: see {@link backupNamingProblem}.
 */

/** Expands to the source bucket in `DEST_BUCKET` and `DEST_PREFIX`. */
export const BUCKET_PLACEHOLDER = '{bucket}';

/** The backup side of the configuration that names backup objects. */
export interface BackupLocation {
  /** The backup bucket; `{bucket}` expands to the source bucket. */
  readonly bucket: string;
  /** Put before every source key, byte for byte; `{bucket}/` expands to the source bucket. */
  readonly prefix: string;
}

/** The backup bucket of a source bucket: `DEST_BUCKET` with `{bucket}` expanded. */
export function backupBucket(dest: BackupLocation, sourceBucket: string): string {
  return dest.bucket.replaceAll(BUCKET_PLACEHOLDER, sourceBucket);
}

/** What every backup key of a source bucket starts with: `DEST_PREFIX` with `{bucket}` expanded. */
export function backupKeyPrefix(dest: BackupLocation, sourceBucket: string): string {
  return dest.prefix.replaceAll(BUCKET_PLACEHOLDER, sourceBucket);
}

/**
 * The backup key of a source key: the expanded `DEST_PREFIX` + key, concatenated and nothing
 * else. No path normalisation happens anywhere, so `../` in a key stays literal and cannot leave
 * the prefix. Keys are compared as UTF-8 bytes by S3; a result above S3's 1,024-byte limit is
 * the caller's to refuse (see {@link backupKeyFits}).
 */
export function backupKey(dest: BackupLocation, sourceBucket: string, sourceKey: string): string {
  return backupKeyPrefix(dest, sourceBucket) + sourceKey;
}

/** True when the backup key of `sourceKey` stays within S3's key length limit. */
export function backupKeyFits(
  dest: BackupLocation,
  sourceBucket: string,
  sourceKey: string,
): boolean {
  return Buffer.byteLength(backupKey(dest, sourceBucket, sourceKey), 'utf8') <= MAX_KEY_BYTES;
}

/**
 * The part of `DEST_PREFIX` shared by every source bucket (before its first `{bucket}`): where
 * a tool that looks at the whole backup (the janitor) looks.
 */
export function sharedKeyPrefix(dest: BackupLocation): string {
  const at = dest.prefix.indexOf(BUCKET_PLACEHOLDER);
  return at === -1 ? dest.prefix : dest.prefix.slice(0, at);
}

/**
 * Why this naming could give objects of two source buckets the same backup key, or undefined
 * when it cannot. Distinct source buckets get distinct backup keys when `DEST_BUCKET` names a
 * bucket per source bucket (`{bucket}` in it), or `DEST_PREFIX` a prefix per source bucket
 * (`{bucket}/` in it: bucket names cannot contain `/`, so `a` + `/bc` and `ab` + `/c` differ),
 * or when `SOURCE_BUCKETS` lets exactly one source bucket through.
 */
export function backupNamingProblem(
  dest: BackupLocation,
  sourceBuckets: readonly string[],
): string | undefined {
  if (
    dest.prefix
      .split(BUCKET_PLACEHOLDER)
      .slice(1)
      .some((after) => !after.startsWith('/'))
  ) {
    return (
      'DEST_PREFIX must follow {bucket} with "/" (as in DEST_PREFIX={bucket}/): without it the ' +
      'backup keys of buckets "a" and "ab" could meet ("a" + "bc" = "ab" + "c")'
    );
  }
  if (dest.bucket.includes(BUCKET_PLACEHOLDER) || dest.prefix.includes(BUCKET_PLACEHOLDER)) {
    return undefined;
  }
  if (sourceBuckets.length === 1) return undefined;
  return (
    `DEST_BUCKET "${dest.bucket}" is one backup bucket for every source bucket and SOURCE_BUCKETS ` +
    `${sourceBuckets.length === 0 ? 'is empty (any bucket)' : `lists ${sourceBuckets.length} buckets`}, ` +
    "so objects of different source buckets with the same key would overwrite and delete each other's " +
    'backup. Set SOURCE_BUCKETS to the one source bucket, or put {bucket} in DEST_BUCKET (a backup ' +
    'bucket per source bucket, e.g. DEST_BUCKET={bucket}-backup) or in DEST_PREFIX (e.g. ' +
    'DEST_PREFIX={bucket}/)'
  );
}
