import { S3ServiceException } from '@aws-sdk/client-s3';
import { RelayError, TransientError, type ErrorContext } from '../errors.js';
import { classifyS3Error } from './classify-error.js';

/**
 * "Gone means gone": what the source must have said before a backup object may be deleted.
 *
 * The only proof that a source object is gone is S3's own `NoSuchKey` error code, which the SDK
 * reads from the XML body of a GET's 404 answer (it never makes that code up: a 404 without a
 * body, or with an HTML page, reaches us as `NotFound` without a code). A HEAD answer has no
 * body, so a HEAD 404 proves nothing. Every other kind of absence — a 404 without S3's code, a
 * body that is not S3's XML, `NoSuchBucket`, a 403 — is a {@link TransientError} with a code of
 * its own: retried through the tiers, then parked, and never a delete.
 */

/** Codes of a 403 that mean the credentials themselves are wrong, not the permissions. */
const INVALID_CREDENTIALS = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'InvalidSecurity',
]);

/** The S3 error code from the answer's XML body, if it had one. */
function bodyCode(err: S3ServiceException): string | undefined {
  const code = (err as { Code?: unknown }).Code;
  return typeof code === 'string' && code !== '' ? code : undefined;
}

function httpStatusOf(err: unknown): number | undefined {
  const status = (err as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata
    ?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** True only when a failed GET of a source object is S3's XML `NoSuchKey` answer (HTTP 404). */
export function isSourceObjectGone(err: unknown): boolean {
  return (
    S3ServiceException.isInstance(err) &&
    bodyCode(err) === 'NoSuchKey' &&
    err.$metadata.httpStatusCode === 404
  );
}

const REPLAY_HINT = (code: string) =>
  `; nothing was deleted. Once fixed: s3relay dlq replay --error-code ${code}`;

/**
 * The error of a failed GET or listing on the source that is not proof of absence (see the
 * module comment); anything unrelated to absence is classified by {@link classifyS3Error}.
 */
export function classifySourceError(err: unknown, context: ErrorContext = {}): RelayError {
  if (err instanceof RelayError) return err;
  const options = { cause: err, context };
  const status = httpStatusOf(err);
  const bucket = context.bucket === undefined ? 'the source bucket' : `"${context.bucket}"`;
  const code = S3ServiceException.isInstance(err) ? bodyCode(err) : undefined;
  if (code === 'NoSuchBucket') {
    return new TransientError(
      'RELAY_SOURCE_NO_SUCH_BUCKET',
      `the source answered NoSuchBucket for ${bucket}: check the bucket name, SOURCE_S3_ENDPOINT ` +
        `and the account of SOURCE_S3_ACCESS_KEY_ID${REPLAY_HINT('RELAY_SOURCE_NO_SUCH_BUCKET')}`,
      options,
    );
  }
  if (status === 403 && (code === undefined || !INVALID_CREDENTIALS.has(code))) {
    return new TransientError(
      'RELAY_SOURCE_ACCESS_DENIED',
      `the source answered 403 ${code ?? 'without an S3 error code'} for ${bucket}: the source ` +
        'credentials need s3:GetObject and s3:ListBucket (without ListBucket S3 answers 403 ' +
        `instead of NoSuchKey for a missing key)${REPLAY_HINT('RELAY_SOURCE_ACCESS_DENIED')}`,
      options,
    );
  }
  if (status !== undefined && status < 300 && !S3ServiceException.isInstance(err)) {
    // The SDK could not parse a success answer: a web page where S3's XML should be.
    return new TransientError(
      'RELAY_SOURCE_NOT_S3',
      `the source answered HTTP ${status} with a body that is not S3's XML (${messageOf(err)}): ` +
        `check that SOURCE_S3_ENDPOINT points at S3${REPLAY_HINT('RELAY_SOURCE_NOT_S3')}`,
      options,
    );
  }
  if (status === 404) {
    return new TransientError(
      'RELAY_SOURCE_NOT_S3',
      `the source answered 404 ${code === undefined ? "without S3's error code (its body is not S3's XML)" : `with the unexpected code ${code}`}, ` +
        'so the object is not proven gone: check that SOURCE_S3_ENDPOINT points at S3 and not at ' +
        `a web server, proxy or CDN${REPLAY_HINT('RELAY_SOURCE_NOT_S3')}`,
      options,
    );
  }
  return classifyS3Error(err, context);
}

/**
 * Checks that a ListObjectsV2 answer is S3's listing of `bucket` (its parsed `Name`): a web
 * server or proxy that answers 200 to anything does not produce one.
 */
export function assertListingOf(
  listing: { readonly Name?: string | undefined },
  bucket: string,
  context: ErrorContext = {},
): void {
  if (listing.Name === bucket) return;
  throw new TransientError(
    'RELAY_SOURCE_NOT_S3',
    `the source answered a listing of "${bucket}" with ${listing.Name === undefined ? "something that is not S3's ListBucketResult" : `a listing of "${listing.Name}"`}, ` +
      `so the bucket is not proven to exist: check SOURCE_S3_ENDPOINT${REPLAY_HINT('RELAY_SOURCE_NOT_S3')}`,
    { context: { ...context, bucket } },
  );
}

function messageOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}
