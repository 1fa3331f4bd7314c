import { describe, expect, it } from 'vitest';
import { authenticate, checkPayloadEncoding } from './request-checks.js';

const V4 =
  'AWS4-HMAC-SHA256 Credential=S3RVER/20261129/ru-msk/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00';

describe('authenticate', () => {
  it('accepts the configured access key id, signed in any of the ways S3 knows', () => {
    const sha = { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
    expect(authenticate({ authorization: V4, ...sha }, '/b/k', 'S3RVER')).toBeUndefined();
    expect(authenticate({ authorization: 'AWS S3RVER:c2ln' }, '/b/k', 'S3RVER')).toBeUndefined();
    expect(
      authenticate(
        {},
        '/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=S3RVER%2F20261129%2Fru-msk%2Fs3%2Faws4_request',
        'S3RVER',
      ),
    ).toBeUndefined();
    expect(
      authenticate({}, '/b/k?AWSAccessKeyId=S3RVER&Expires=1&Signature=x', 'S3RVER'),
    ).toBeUndefined();
  });

  it('refuses unsigned requests, other keys and SigV4 without x-amz-content-sha256', () => {
    expect(authenticate({}, '/b/k', 'S3RVER')).toMatchObject({ status: 403, code: 'AccessDenied' });
    expect(
      authenticate({ authorization: V4, 'x-amz-content-sha256': 'x' }, '/b', 'OTHER'),
    ).toMatchObject({
      status: 403,
      code: 'InvalidAccessKeyId',
      details: { AWSAccessKeyId: 'S3RVER' },
    });
    expect(authenticate({ authorization: 'Bearer x' }, '/b', 'S3RVER')).toMatchObject({
      status: 400,
      code: 'InvalidArgument',
    });
    expect(authenticate({ authorization: V4 }, '/b', 'S3RVER')).toMatchObject({
      status: 400,
      code: 'InvalidRequest',
    });
  });
});

describe('checkPayloadEncoding', () => {
  it('refuses aws-chunked bodies, which s3rver would store with their framing', () => {
    expect(
      checkPayloadEncoding({ 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' }),
    ).toMatchObject({
      status: 501,
      code: 'NotImplemented',
    });
    expect(checkPayloadEncoding({ 'content-encoding': 'gzip, aws-chunked' })).toMatchObject({
      status: 501,
    });
    expect(
      checkPayloadEncoding({
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        'content-encoding': 'gzip',
      }),
    ).toBeUndefined();
    expect(checkPayloadEncoding({})).toBeUndefined();
  });
});
