import {
  GetBucketNotificationConfigurationCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ok, problem, s3Code, s3Reason, warning, type Finding } from './finding.js';

/** The permissions each side needs, as the README's worker section lists them. */
const SOURCE_NEEDS = 's3:ListBucket and s3:GetObject (and s3:GetObjectTagging) on the source';
const BACKUP_NEEDS =
  's3:ListBucket, s3:GetObject, s3:PutObject, s3:DeleteObject and the multipart permissions on the backup';

/** The source bucket answers a listing, and its first object a one-byte read. */
export async function checkSource(client: S3Client, bucket: string): Promise<Finding> {
  const check = 'source readable';
  try {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1 }));
    const first = page.Contents?.[0]?.Key;
    if (first !== undefined) {
      const read = await client.send(
        new GetObjectCommand({ Bucket: bucket, Key: first, Range: 'bytes=0-0' }),
      );
      await read.Body?.transformToByteArray();
    }
    return ok(check, `${bucket} lists${first === undefined ? ' (empty)' : ' and reads'}`);
  } catch (err) {
    return problem(
      check,
      `${bucket}: ${s3Reason(err)}`,
      `give the source credentials ${SOURCE_NEEDS}`,
    );
  }
}

/**
 * The backup bucket answers a listing, and a HEAD of a missing key answers 404: without
 * s3:ListBucket S3 answers 403 there, which the worker would have to take for access denied.
 */
export async function checkBackup(client: S3Client, bucket: string): Promise<Finding> {
  const check = 'backup reachable';
  try {
    await client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1 }));
  } catch (err) {
    return problem(
      check,
      `${bucket}: ${s3Reason(err)}`,
      `give the backup credentials ${BACKUP_NEEDS}`,
    );
  }
  try {
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: '.s3relay-doctor-absent' }));
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status !== 404) {
      return problem(
        check,
        `a HEAD of a missing key answered ${s3Reason(err)}, not 404`,
        `give the backup credentials ${BACKUP_NEEDS}`,
      );
    }
  }
  return ok(check, `${bucket} lists, and a missing key reads as missing`);
}

/** Whether the source bucket sends notifications, where the provider lets us read that. */
export async function checkNotifications(client: S3Client, bucket: string): Promise<Finding> {
  const check = 'source sends notifications';
  try {
    const config = await client.send(
      new GetBucketNotificationConfigurationCommand({ Bucket: bucket }),
    );
    const count =
      (config.TopicConfigurations?.length ?? 0) +
      (config.QueueConfigurations?.length ?? 0) +
      (config.LambdaFunctionConfigurations?.length ?? 0) +
      (config.EventBridgeConfiguration === undefined ? 0 : 1);
    if (count > 0) return ok(check, `${bucket} has ${count} notification configuration(s)`);
    return problem(
      check,
      `${bucket} has no notification configuration: no event reaches the ingress`,
      'register the webhook (README, "Registering the webhook"), then s3relay resync',
    );
  } catch (err) {
    return warning(
      check,
      `cannot read the notifications of ${bucket} here (${s3Code(err) || s3Reason(err)})`,
      "check the provider's console (VK Cloud: bucket → Webhooks)",
    );
  }
}
