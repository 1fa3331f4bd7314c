import type { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ErrorContext, Task } from '@s3relay/core';
import { classifySourceError, isSourceObjectGone } from '@s3relay/core/s3';

/**
 * Asks the source for the task's key: true when it answers S3's `NoSuchKey` (the only proof a
 * backup delete accepts), false when the object is there; throws when the answer proves neither
 * (see `classifySourceError`). A GET, because a HEAD's 404 carries no S3 error code; its body is
 * not read.
 */
export async function isSourceGone(
  source: S3Client,
  task: Task,
  signal: AbortSignal,
  context: ErrorContext,
): Promise<boolean> {
  try {
    const response = await source.send(
      new GetObjectCommand({ Bucket: task.bucket, Key: task.key }),
      { abortSignal: signal },
    );
    (response.Body as Readable | undefined)?.destroy();
    return false;
  } catch (err) {
    if (isSourceObjectGone(err)) return true;
    throw classifySourceError(err, context);
  }
}
