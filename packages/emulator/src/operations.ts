import type { IncomingHttpHeaders } from 'node:http';

/** The S3 operations the front of the emulator treats specially; everything else is `other`. */
export type S3Operation =
  | {
      readonly kind: 'putNotification' | 'getNotification' | 'listMultipartUploads';
      readonly bucket: string;
    }
  | { readonly kind: 'deleteObjects' | 'postObject' | 'deleteBucket'; readonly bucket: string }
  | {
      readonly kind: 'putObject' | 'copyObject' | 'deleteObject';
      readonly bucket: string;
      readonly key: string;
    }
  | {
      readonly kind: 'abortMultipartUpload' | 'uploadPart' | 'completeMultipartUpload';
      readonly bucket: string;
      readonly key: string;
      readonly uploadId: string;
    }
  | { readonly kind: 'other' };

/**
 * Query parameters that name a sub-resource (s3rver's bucket and object METHODS): a request with
 * none of them is the plain operation on the bucket or object. Others (`x-id=PutObject`, which
 * the SDK adds, `versionId`, …) do not change the operation.
 */
const SUBRESOURCES = [
  'acl',
  'analytics',
  'cors',
  'delete',
  'encryption',
  'inventory',
  'legal-hold',
  'lifecycle',
  'location',
  'metrics',
  'notification',
  'object-lock',
  'policy',
  'policyStatus',
  'publicAccessBlock',
  'replication',
  'requestPayment',
  'retention',
  'select',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'versioning',
  'versions',
  'website',
];

/**
 * Tells which operation a path-style request is, the way s3rver routes it: `/<bucket>` and
 * `/<bucket>/<key>`, the key percent-decoded (kept raw when it is not valid percent-encoding)
 * and never normalised (`a/../b` is a key of its own).
 */
export function classifyRequest(
  method: string,
  url: string,
  headers: IncomingHttpHeaders,
): S3Operation {
  const queryStart = url.indexOf('?');
  const path = queryStart === -1 ? url : url.slice(0, queryStart);
  const query = new URLSearchParams(queryStart === -1 ? '' : url.slice(queryStart + 1));
  if (!path.startsWith('/') || path === '/') return { kind: 'other' };
  const slash = path.indexOf('/', 1);
  const bucket = safeDecode(slash === -1 ? path.slice(1) : path.slice(1, slash));
  const key = slash === -1 ? '' : safeDecode(path.slice(slash + 1));
  const subresources = SUBRESOURCES.filter((name) => query.has(name));
  const plain = subresources.length === 0;
  const only = (name: string) => subresources.length === 1 && subresources[0] === name;

  if (key === '') {
    if (only('notification') && method === 'PUT') return { kind: 'putNotification', bucket };
    if (only('notification') && method === 'GET') return { kind: 'getNotification', bucket };
    if (only('delete') && method === 'POST') return { kind: 'deleteObjects', bucket };
    if (only('uploads') && method === 'GET') return { kind: 'listMultipartUploads', bucket };
    if (plain && method === 'POST') return { kind: 'postObject', bucket };
    if (plain && method === 'DELETE') return { kind: 'deleteBucket', bucket };
    return { kind: 'other' };
  }
  const uploadId = query.get('uploadId');
  if (only('uploadId') && uploadId !== null) {
    if (method === 'DELETE') return { kind: 'abortMultipartUpload', bucket, key, uploadId };
    if (method === 'PUT') return { kind: 'uploadPart', bucket, key, uploadId };
    if (method === 'POST') return { kind: 'completeMultipartUpload', bucket, key, uploadId };
    return { kind: 'other' };
  }
  if (plain && method === 'PUT') {
    return { kind: 'x-amz-copy-source' in headers ? 'copyObject' : 'putObject', bucket, key };
  }
  if (plain && method === 'DELETE') return { kind: 'deleteObject', bucket, key };
  return { kind: 'other' };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
