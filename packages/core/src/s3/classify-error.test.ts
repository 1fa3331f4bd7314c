import { S3ServiceException } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { PermanentError, TransientError } from '../errors.js';
import { classifyS3Error, isObjectNotFound } from './classify-error.js';

function s3Error(name: string, status: number, fault: 'client' | 'server' = 'client') {
  return new S3ServiceException({
    name,
    $fault: fault,
    $metadata: { httpStatusCode: status },
    message: `${name} happened`,
  });
}

describe('classifyS3Error', () => {
  it.each([
    ['AccessDenied', 403, 'RELAY_S3_ACCESS_DENIED'],
    ['Forbidden', 403, 'RELAY_S3_ACCESS_DENIED'],
    ['NoSuchBucket', 404, 'RELAY_S3_NO_SUCH_BUCKET'],
    ['InvalidAccessKeyId', 403, 'RELAY_S3_INVALID_CREDENTIALS'],
    ['SignatureDoesNotMatch', 403, 'RELAY_S3_INVALID_CREDENTIALS'],
    ['KeyTooLongError', 400, 'RELAY_S3_CLIENT_ERROR'],
    ['MetadataTooLarge', 400, 'RELAY_S3_CLIENT_ERROR'],
  ])('%s (%i) is permanent with code %s', (name, status, code) => {
    const err = classifyS3Error(s3Error(name, status), { bucket: 'b', key: 'k' });
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.code).toBe(code);
    expect(err.context).toEqual({ bucket: 'b', key: 'k' });
    expect(err.message).toContain(name);
  });

  it.each([
    ['SlowDown', 503, 'server', 'RELAY_S3_RETRYABLE_CLIENT_ERROR'],
    ['InternalError', 500, 'server', 'RELAY_S3_SERVER_ERROR'],
    ['ServiceUnavailable', 503, 'server', 'RELAY_S3_SERVER_ERROR'],
    ['RequestTimeout', 400, 'client', 'RELAY_S3_RETRYABLE_CLIENT_ERROR'],
    ['TooManyRequests', 429, 'client', 'RELAY_S3_RETRYABLE_CLIENT_ERROR'],
    ['NoSuchUpload', 404, 'client', 'RELAY_S3_RETRYABLE_CLIENT_ERROR'],
    ['PreconditionFailed', 412, 'client', 'RELAY_S3_RETRYABLE_CLIENT_ERROR'],
    ['UnknownError', 502, 'client', 'RELAY_S3_SERVER_ERROR'],
  ] as const)('%s (%i) is transient', (name, status, fault, code) => {
    const err = classifyS3Error(s3Error(name, status, fault));
    expect(err).toBeInstanceOf(TransientError);
    expect(err.code).toBe(code);
  });

  it('treats resets, timeouts, aborts and cut bodies as transient network errors', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const timeout = Object.assign(new Error('socket timed out'), { name: 'TimeoutError' });
    const abort = Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });
    const cut = new Error('aborted');
    const wrapped = new Error('upload failed', { cause: reset });
    for (const err of [reset, timeout, abort, cut, wrapped]) {
      const classified = classifyS3Error(err);
      expect(classified).toBeInstanceOf(TransientError);
      expect(classified.code).toBe('RELAY_S3_NETWORK');
      expect(classified.cause).toBe(err);
    }
  });

  it('retries what it does not recognise, and keeps errors that are already classified', () => {
    expect(classifyS3Error(new Error('odd')).code).toBe('RELAY_S3_UNEXPECTED');
    expect(classifyS3Error('a string').retryable).toBe(true);
    const own = new PermanentError('RELAY_COPY_KEY_TOO_LONG', 'too long');
    expect(classifyS3Error(own)).toBe(own);
  });
});

describe('isObjectNotFound', () => {
  it('is true for a missing key and false for a missing bucket or other errors', () => {
    expect(isObjectNotFound(s3Error('NoSuchKey', 404))).toBe(true);
    expect(isObjectNotFound(s3Error('NotFound', 404))).toBe(true);
    expect(isObjectNotFound(s3Error('NoSuchBucket', 404))).toBe(false);
    expect(isObjectNotFound(s3Error('AccessDenied', 403))).toBe(false);
    expect(isObjectNotFound(new Error('NoSuchKey'))).toBe(false);
  });
});
