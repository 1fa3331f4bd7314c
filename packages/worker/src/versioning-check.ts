import { GetBucketVersioningCommand, type S3Client } from '@aws-sdk/client-s3';
import { serializeError, type Logger } from '@s3relay/core';
import type { BackupLocation } from '@s3relay/core/s3';

/**
 * Says once, at startup, when the backup bucket keeps no history: every overwrite and delete the
 * worker replicates then replaces the only copy, so `s3relay restore` has nothing to go back to.
 * Never stops the worker (a mirror is a valid choice); a bucket named per source bucket
 * (`{bucket}`) is left to `s3relay doctor --bucket`.
 */
export async function warnIfUnversioned(
  client: S3Client,
  backup: BackupLocation,
  logger: Logger,
): Promise<void> {
  if (backup.bucket.includes('{bucket}')) return;
  try {
    const answer = await client.send(new GetBucketVersioningCommand({ Bucket: backup.bucket }));
    if (answer.Status === 'Enabled') return;
    logger.warn(
      'the backup bucket is not versioned: overwrites and deletes replace the only copy, so no ' +
        'earlier state can be restored (s3relay doctor --fix turns versioning on)',
      { bucket: backup.bucket, versioning: answer.Status ?? 'never enabled' },
    );
  } catch (err) {
    logger.debug('could not read the backup bucket versioning', { error: serializeError(err) });
  }
}
