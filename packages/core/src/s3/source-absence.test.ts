import { S3ServiceException } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { PermanentError, TransientError } from '../errors.js';
import { assertListingOf, classifySourceError, isSourceObjectGone } from './source-absence.js';

/**
 * An SDK exception as the SDK builds it: `Code` is present only when the answer's XML body
 * carried one (an HTML 404 page arrives as name `NotFound` without `Code`).
 */
function answer(status: number, name: string, bodyCode?: string) {
  const err = new S3ServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    message: bodyCode === undefined ? 'UnknownError' : `${bodyCode} happened`,
  });
  return bodyCode === undefined ? err : Object.assign(err, { Code: bodyCode });
}

const context = { bucket: 'data', key: 'k' };

describe('isSourceObjectGone', () => {
  it("takes only S3's XML NoSuchKey answer of a GET as proof", () => {
    expect(isSourceObjectGone(answer(404, 'NoSuchKey', 'NoSuchKey'))).toBe(true);
  });

  it.each([
    ['a 404 without a body or with an HTML page', answer(404, 'NotFound')],
    ['a HEAD 404 (named NoSuchKey by nobody but without a body code)', answer(404, 'NoSuchKey')],
    ['NoSuchBucket', answer(404, 'NoSuchBucket', 'NoSuchBucket')],
    ['a 403', answer(403, 'AccessDenied', 'AccessDenied')],
    ['NoSuchKey with a status other than 404', answer(400, 'NoSuchKey', 'NoSuchKey')],
    [
      'an XML parse failure of a 404 body',
      Object.assign(new Error('XML parse error'), { $metadata: { httpStatusCode: 404 } }),
    ],
    ['a plain error', new Error('NoSuchKey')],
  ])('does not take %s as proof', (_what, err) => {
    expect(isSourceObjectGone(err)).toBe(false);
  });
});

describe('classifySourceError', () => {
  it.each([
    ['an HTML or empty 404', answer(404, 'NotFound'), 'RELAY_SOURCE_NOT_S3', /SOURCE_S3_ENDPOINT/],
    [
      'a 404 whose body could not be parsed',
      Object.assign(new Error('XML parse error'), { $metadata: { httpStatusCode: 404 } }),
      'RELAY_SOURCE_NOT_S3',
      /not proven gone/,
    ],
    [
      'a 200 whose body could not be parsed (an HTML page for a listing)',
      Object.assign(new Error('@aws-sdk XML parse error: mismatched tags.\n  more'), {
        $metadata: { httpStatusCode: 200 },
      }),
      'RELAY_SOURCE_NOT_S3',
      /HTTP 200 with a body that is not S3's XML \(@aws-sdk XML parse error: mismatched tags.\)/,
    ],
    [
      'a 404 with another code',
      answer(404, 'NoSuchKey', 'NoSuchKey'),
      'RELAY_SOURCE_NOT_S3',
      /unexpected code NoSuchKey/,
    ],
    [
      'NoSuchBucket',
      answer(404, 'NoSuchBucket', 'NoSuchBucket'),
      'RELAY_SOURCE_NO_SUCH_BUCKET',
      /"data"/,
    ],
    [
      'AccessDenied',
      answer(403, 'AccessDenied', 'AccessDenied'),
      'RELAY_SOURCE_ACCESS_DENIED',
      /s3:ListBucket/,
    ],
    [
      'a 403 without a body',
      answer(403, 'Forbidden'),
      'RELAY_SOURCE_ACCESS_DENIED',
      /without an S3 error code/,
    ],
  ])(
    'makes %s a transient error with its own code, saying nothing was deleted',
    (_what, err, code, says) => {
      const classified = classifySourceError(err, context);
      expect(classified).toBeInstanceOf(TransientError);
      expect(classified.code).toBe(code);
      expect(classified.message).toMatch(says);
      expect(classified.message).toContain(
        `nothing was deleted. Once fixed: s3relay dlq replay --error-code ${code}`,
      );
      expect(classified.context).toEqual(context);
    },
  );

  it('leaves other failures to the general classification', () => {
    expect(
      classifySourceError(answer(403, 'InvalidAccessKeyId', 'InvalidAccessKeyId')),
    ).toBeInstanceOf(PermanentError);
    expect(classifySourceError(answer(503, 'SlowDown', 'SlowDown')).code).toBe(
      'RELAY_S3_RETRYABLE_CLIENT_ERROR',
    );
    expect(classifySourceError(answer(500, 'InternalError', 'InternalError')).code).toBe(
      'RELAY_S3_SERVER_ERROR',
    );
  });
});

describe('assertListingOf', () => {
  it("accepts S3's listing of the bucket", () => {
    expect(() => assertListingOf({ Name: 'data' }, 'data')).not.toThrow();
  });

  it('refuses an answer that is no listing, or a listing of another bucket', () => {
    for (const listing of [{}, { Name: 'other' }]) {
      let thrown: unknown;
      try {
        assertListingOf(listing, 'data', { key: 'k' });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(TransientError);
      expect((thrown as TransientError).code).toBe('RELAY_SOURCE_NOT_S3');
      expect((thrown as TransientError).context).toEqual({ key: 'k', bucket: 'data' });
    }
  });
});
