import type { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '@s3relay/core';
import { backupBucket, backupKey, createS3Client } from '@s3relay/core/s3';
import { CliError, ExitCode } from '../exit-codes.js';
import { compareKey, type CompareContext, type KeyComparison } from './compare.js';
import { listObjects, mergeListings, type KeyPair } from './listing.js';

/** Source and backup of one source bucket, as the workers see them. */
export interface Sides {
  readonly source: S3Client;
  readonly backup: S3Client;
  readonly sourceBucket: string;
  readonly backupBucket: string;
  readonly backupKeyOf: (key: string) => string;
  close(): void;
}

/**
 * Thrown as a usage error for a bucket outside SOURCE_BUCKETS: the workers park its tasks, and
 * its backup keys may be another bucket's.
 */
export function assertReplicated(config: Config, sourceBucket: string): void {
  const allowed = config.source.buckets;
  if (allowed.length > 0 && !allowed.includes(sourceBucket)) {
    throw new CliError(
      ExitCode.usage,
      `bucket "${sourceBucket}" is not in SOURCE_BUCKETS (${allowed.join(', ')}): s3relay ` +
        'replicates only those buckets, and the workers would park its tasks; add it to ' +
        'SOURCE_BUCKETS (with a DEST_BUCKET or DEST_PREFIX that has {bucket}) first',
    );
  }
}

/** Opens both sides of `sourceBucket` (one of SOURCE_BUCKETS, when that is set). */
export function openSides(config: Config, sourceBucket: string, concurrency: number): Sides {
  assertReplicated(config, sourceBucket);
  const source = createS3Client(config.source, { maxSockets: concurrency * 2 });
  const backup = createS3Client(config.dest, { maxSockets: concurrency * 2 });
  return {
    source,
    backup,
    sourceBucket,
    backupBucket: backupBucket(config.dest, sourceBucket),
    backupKeyOf: (key) => backupKey(config.dest, sourceBucket, key),
    close() {
      source.destroy();
      backup.destroy();
    },
  };
}

/** The merged listings of source and backup under a source-key prefix. */
export function pairs(sides: Sides, prefix: string, signal?: AbortSignal): AsyncGenerator<KeyPair> {
  const backupRoot = sides.backupKeyOf('');
  return mergeListings(
    listObjects(sides.source, sides.sourceBucket, prefix, '', signal),
    listObjects(sides.backup, sides.backupBucket, backupRoot + prefix, backupRoot, signal),
  );
}

export function compareOn(
  sides: Sides,
  pair: KeyPair,
  how: { readonly deep: boolean; readonly tags: boolean },
  signal?: AbortSignal,
): Promise<KeyComparison> {
  const context: CompareContext = { ...sides, ...how, signal };
  return compareKey(pair, context);
}
