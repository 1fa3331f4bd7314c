import type { IncomingHttpHeaders } from 'node:http';
import type { S3ErrorReply } from './s3-error.js';

/**
 * Checks who signed a request, as far as s3rver can be trusted to: s3rver verifies SigV2
 * signatures but not SigV4 ones (it only looks the access key id up), so the emulator checks the
 * access key id of every request — header or presigned, V2 or V4 — and refuses unsigned requests
 * as a private VK bucket does. The secret is not verified. Returns the error to answer with, or
 * undefined when the request may go on.
 */
export function authenticate(
  headers: IncomingHttpHeaders,
  url: string,
  accessKeyId: string,
): S3ErrorReply | undefined {
  const presented = presentedAccessKeyId(headers, url);
  if (presented === undefined) {
    return { status: 403, code: 'AccessDenied', message: 'Access Denied' };
  }
  if (typeof presented !== 'string') return presented;
  if (presented !== accessKeyId) {
    return {
      status: 403,
      code: 'InvalidAccessKeyId',
      message: 'The AWS Access Key Id you provided does not exist in our records.',
      details: { AWSAccessKeyId: presented },
    };
  }
  const authorization = headers.authorization;
  if (authorization?.startsWith('AWS4-HMAC-SHA256') && !('x-amz-content-sha256' in headers)) {
    return {
      status: 400,
      code: 'InvalidRequest',
      message: 'Missing required header for this request: x-amz-content-sha256',
    };
  }
  return undefined;
}

function presentedAccessKeyId(
  headers: IncomingHttpHeaders,
  url: string,
): string | S3ErrorReply | undefined {
  const authorization = headers.authorization;
  if (authorization !== undefined) {
    const v4 = /^AWS4-HMAC-SHA256\s.*Credential=([^/,\s]+)\//.exec(authorization);
    if (v4?.[1] !== undefined) return v4[1];
    const v2 = /^AWS ([^:\s]+):/.exec(authorization);
    if (v2?.[1] !== undefined) return v2[1];
    return {
      status: 400,
      code: 'InvalidArgument',
      message: 'Unsupported Authorization Type',
      details: { ArgumentName: 'Authorization', ArgumentValue: authorization },
    };
  }
  const queryStart = url.indexOf('?');
  if (queryStart === -1) return undefined;
  const query = new URLSearchParams(url.slice(queryStart + 1));
  const credential = query.get('X-Amz-Credential');
  if (credential !== null) return credential.split('/')[0] ?? '';
  return query.get('AWSAccessKeyId') ?? undefined;
}

/**
 * s3rver stores an `aws-chunked` body (the SDK's default CRC32 trailer since 2025, or a
 * chunk-signed upload) as it comes, frames and signatures included: refuse it rather than store a
 * corrupted object. Clients must send plain bodies (`requestChecksumCalculation: 'WHEN_REQUIRED'`
 * in the SDK, `AWS_REQUEST_CHECKSUM_CALCULATION=when_required` for the aws CLI).
 */
export function checkPayloadEncoding(headers: IncomingHttpHeaders): S3ErrorReply | undefined {
  const contentSha256 = String(headers['x-amz-content-sha256'] ?? '');
  const chunked =
    contentSha256.startsWith('STREAMING-') ||
    (headers['content-encoding'] ?? '')
      .split(',')
      .some((coding) => coding.trim() === 'aws-chunked');
  if (!chunked) return undefined;
  return {
    status: 501,
    code: 'NotImplemented',
    message:
      'The emulator does not accept aws-chunked payloads; configure the client to compute checksums only when required',
    details: { Header: 'x-amz-content-sha256', HeaderValue: contentSha256 },
  };
}
