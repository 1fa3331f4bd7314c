import { GetBucketVersioningCommand, type S3Client } from '@aws-sdk/client-s3';
import { CliError, ExitCode } from '../exit-codes.js';

/** What the backup bucket's versioning says about history. */
export type VersioningStatus = 'Enabled' | 'Suspended' | 'Off';

export async function versioningStatus(
  client: S3Client,
  bucket: string,
): Promise<VersioningStatus> {
  const answer = await client.send(new GetBucketVersioningCommand({ Bucket: bucket }));
  return answer.Status === 'Enabled' || answer.Status === 'Suspended' ? answer.Status : 'Off';
}

/**
 * Refuses, saying what to change, when the backup bucket never kept versions: an unversioned
 * bucket holds only the current copy of each object, so there is no earlier state to rebuild.
 * Suspended versioning still holds the versions made while it was on.
 */
export async function requireHistory(
  client: S3Client,
  bucket: string,
  warn: (text: string) => void,
): Promise<void> {
  const status = await versioningStatus(client, bucket);
  if (status === 'Off') {
    throw new CliError(
      ExitCode.problemsFound,
      `the backup bucket "${bucket}" is not versioned: it holds only the current copy of each ` +
        'object, so there is no earlier state to restore. Turn versioning on (`s3relay doctor ' +
        '--bucket <source> --fix` also adds a lifecycle rule that expires old versions); ' +
        'history starts from then.',
    );
  }
  if (status === 'Suspended') {
    warn(
      `the backup bucket "${bucket}" has versioning suspended: only versions made while it was ` +
        'on are kept, and later overwrites replace their object',
    );
  }
}
