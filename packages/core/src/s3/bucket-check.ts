import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { S3EndpointConfig } from '../config.js';
import { PermanentError, TransientError, type ErrorCode, type RelayError } from '../errors.js';
import { assertListingOf, classifySourceError } from './source-absence.js';

/** One bucket a process needs, on one side, and the variable that names it. */
export interface BucketTarget {
  readonly side: 'source' | 'backup';
  readonly bucket: string;
  /** `SOURCE_BUCKETS` or `DEST_BUCKET`. */
  readonly variable: string;
  readonly endpoint: S3EndpointConfig;
}

/**
 * What S3 answers when it refuses this process its bucket: retrying cannot help until someone
 * changes the credentials, the permissions, the bucket or the endpoint.
 */
const REFUSALS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'RELAY_S3_ACCESS_DENIED',
  'RELAY_S3_INVALID_CREDENTIALS',
  'RELAY_S3_NO_SUCH_BUCKET',
  'RELAY_S3_CLIENT_ERROR',
  'RELAY_SOURCE_NOT_S3',
  'RELAY_SOURCE_NO_SUCH_BUCKET',
  'RELAY_SOURCE_ACCESS_DENIED',
]);

/** True when a {@link checkBucket} failure is a refusal, false when S3 may answer later. */
export function isBucketRefusal(error: RelayError): boolean {
  return REFUSALS.has(error.code);
}

/**
 * Checks that the bucket can be used: S3's listing of it, one key at most (ListObjectsV2 with
 * max-keys 1, which needs s3:ListBucket), naming the bucket — a web server or proxy that answers
 * anything with 200 does not produce one. Thrown as a {@link RelayError} whose message names the
 * side, the bucket, the endpoint and what to check; {@link isBucketRefusal} tells a refusal from
 * an endpoint that may answer later (unreachable, 5xx, throttled).
 */
export async function checkBucket(
  client: S3Client,
  target: BucketTarget,
  signal?: AbortSignal,
): Promise<void> {
  const context = { bucket: target.bucket, side: target.side };
  let error: RelayError;
  try {
    const listing = await client.send(
      new ListObjectsV2Command({ Bucket: target.bucket, MaxKeys: 1 }),
      { abortSignal: signal },
    );
    assertListingOf(listing, target.bucket, context);
    return;
  } catch (err) {
    error = classifySourceError(err, context);
  }
  const message = `${describeTarget(target)}: ${problemOf(error, target)}`;
  const options = { cause: error, context };
  if (target.side === 'backup') {
    // The source's codes speak of the delete proof ("nothing was deleted") and are retried; a
    // backup bucket that is missing or refused is S3's own failure, which parks a task at once.
    if (error.code === 'RELAY_SOURCE_NO_SUCH_BUCKET') {
      throw new PermanentError('RELAY_S3_NO_SUCH_BUCKET', message, options);
    }
    if (error.code === 'RELAY_SOURCE_ACCESS_DENIED') {
      throw new PermanentError('RELAY_S3_ACCESS_DENIED', message, options);
    }
  }
  if (error instanceof PermanentError) throw new PermanentError(error.code, message, options);
  if (error instanceof TransientError) throw new TransientError(error.code, message, options);
  throw error;
}

/** `source bucket "photos" (SOURCE_BUCKETS) at http://…` */
function describeTarget(target: BucketTarget): string {
  const where = target.endpoint.endpoint ?? `AWS S3 in ${target.endpoint.region}`;
  return `${target.side} bucket "${target.bucket}" (${target.variable}) at ${where}`;
}

function problemOf(error: RelayError, target: BucketTarget): string {
  const prefix = target.side === 'source' ? 'SOURCE_S3' : 'DEST_S3';
  const needs =
    target.side === 'source'
      ? 's3:ListBucket and s3:GetObject'
      : 's3:ListBucket, s3:GetObject, s3:PutObject, s3:DeleteObject and the multipart calls';
  const firstLine = error.message.split('\n')[0] ?? '';
  const code = error.code;
  if (code === 'RELAY_S3_INVALID_CREDENTIALS') {
    return `the credentials are refused (${firstLine}): check ${prefix}_ACCESS_KEY_ID, ${prefix}_SECRET_ACCESS_KEY and ${prefix}_REGION`;
  }
  if (code === 'RELAY_S3_ACCESS_DENIED' || code === 'RELAY_SOURCE_ACCESS_DENIED') {
    return `access denied: the credentials need ${needs} on it`;
  }
  if (code === 'RELAY_S3_NO_SUCH_BUCKET' || code === 'RELAY_SOURCE_NO_SUCH_BUCKET') {
    return `no such bucket there: check ${target.variable}, ${prefix}_ENDPOINT and ${prefix}_REGION, or create the bucket`;
  }
  if (code === 'RELAY_SOURCE_NOT_S3') {
    return `the endpoint does not answer as S3 does (RELAY_SOURCE_NOT_S3: a listing that is not S3's, or a 404 without S3's error code): check that ${prefix}_ENDPOINT points at S3, not at a web server, proxy or CDN`;
  }
  return `${firstLine} (${code})`;
}
