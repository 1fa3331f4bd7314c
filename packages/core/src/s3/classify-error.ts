import { S3ServiceException } from '@aws-sdk/client-s3';
import { PermanentError, RelayError, TransientError, type ErrorContext } from '../errors.js';

/** S3 error codes that no retry can fix: the credentials or the permissions are wrong. */
const ACCESS_DENIED = new Set(['AccessDenied', 'AllAccessDisabled', 'AccountProblem', 'Forbidden']);
const INVALID_CREDENTIALS = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'InvalidSecurity',
]);
const NO_SUCH_BUCKET = new Set(['NoSuchBucket']);

/**
 * Client-side (4xx) S3 errors that are still worth retrying: throttling, timeouts, clock skew,
 * refreshing credentials, and an object or upload that changed under the copy.
 */
const RETRYABLE_CLIENT = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequests',
  'TooManyRequestsException',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'ExpiredToken',
  'OperationAborted',
  'PreconditionFailed',
  'NoSuchKey',
  'NotFound',
  'NoSuchUpload',
  'InvalidPart',
  'IncompleteBody',
  'BadDigest',
]);
const RETRYABLE_STATUS = new Set([404, 408, 409, 412, 429]);

/** Node and SDK error codes of a connection that failed or was cut. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ERR_HTTP2_STREAM_ERROR',
  'UND_ERR_SOCKET',
]);
const NETWORK_NAMES = new Set(['TimeoutError', 'AbortError', 'RequestTimeout']);

/**
 * Classifies a failed S3 call (or a failed stream of an S3 body) by what a retry can do:
 *
 * - {@link PermanentError}: access denied (`RELAY_S3_ACCESS_DENIED`), bad credentials
 *   (`RELAY_S3_INVALID_CREDENTIALS`), no such bucket (`RELAY_S3_NO_SUCH_BUCKET`) and other 4xx
 *   answers that would be the same next time (`RELAY_S3_CLIENT_ERROR`).
 * - {@link TransientError}: throttling, timeouts and other 4xx answers a later attempt can pass
 *   (`RELAY_S3_RETRYABLE_CLIENT_ERROR`), 5xx, resets, aborted or cut streams
 *   (`RELAY_S3_SERVER_ERROR`, `RELAY_S3_NETWORK`), and anything not recognised
 *   (`RELAY_S3_UNEXPECTED`): an unknown failure is retried, and parked after MAX_ATTEMPTS.
 *
 * A {@link RelayError} is returned unchanged: it was classified where it was raised.
 */
export function classifyS3Error(err: unknown, context: ErrorContext = {}): RelayError {
  if (err instanceof RelayError) return err;
  const options = { cause: err, context };
  if (S3ServiceException.isInstance(err)) {
    const status = err.$metadata.httpStatusCode;
    const name = s3ErrorCode(err);
    const detail = `S3 answered ${name}${status === undefined ? '' : ` (HTTP ${status})`}: ${err.message}`;
    if (NO_SUCH_BUCKET.has(name))
      return new PermanentError('RELAY_S3_NO_SUCH_BUCKET', detail, options);
    if (INVALID_CREDENTIALS.has(name)) {
      return new PermanentError('RELAY_S3_INVALID_CREDENTIALS', detail, options);
    }
    if (ACCESS_DENIED.has(name) || (status === 403 && !RETRYABLE_CLIENT.has(name))) {
      return new PermanentError('RELAY_S3_ACCESS_DENIED', detail, options);
    }
    if (RETRYABLE_CLIENT.has(name) || (status !== undefined && RETRYABLE_STATUS.has(status))) {
      return new TransientError('RELAY_S3_RETRYABLE_CLIENT_ERROR', detail, options);
    }
    if (err.$fault === 'server' || (status !== undefined && status >= 500)) {
      return new TransientError('RELAY_S3_SERVER_ERROR', detail, options);
    }
    if (status !== undefined && status >= 400 && status < 500) {
      return new PermanentError('RELAY_S3_CLIENT_ERROR', detail, options);
    }
    return new TransientError('RELAY_S3_UNEXPECTED', detail, options);
  }
  if (isNetworkError(err)) {
    return new TransientError(
      'RELAY_S3_NETWORK',
      `S3 connection failed: ${messageOf(err)}`,
      options,
    );
  }
  return new TransientError('RELAY_S3_UNEXPECTED', `S3 call failed: ${messageOf(err)}`, options);
}

/** The S3 error code of an SDK exception (`Code` in the XML body, else the exception name). */
export function s3ErrorCode(err: S3ServiceException): string {
  const code = (err as { Code?: unknown }).Code;
  return typeof code === 'string' && code !== '' ? code : err.name;
}

/**
 * True when S3 answered 404 for the object itself (not for its bucket), as a HEAD does for a
 * missing key. Never proof that a source object is gone (a HEAD 404 has no body to tell S3
 * from anything else; see `isSourceObjectGone`): use it only where taking an object for
 * absent leads to a copy or to nothing, never to a delete.
 */
export function isObjectNotFound(err: unknown): boolean {
  if (!S3ServiceException.isInstance(err)) return false;
  const name = s3ErrorCode(err);
  if (NO_SUCH_BUCKET.has(name)) return false;
  return name === 'NoSuchKey' || name === 'NotFound' || err.$metadata.httpStatusCode === 404;
}

function isNetworkError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  if (NETWORK_NAMES.has(err.name)) return true;
  // Node reports a response cut mid-body as a bare "aborted" error, and a dropped keep-alive
  // socket as "socket hang up".
  return /^(aborted|socket hang up)$/i.test(err.message) || isNetworkError(err.cause);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
