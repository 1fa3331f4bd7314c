import { describe, expect, it } from 'vitest';
import { classifyRequest, type S3Operation } from './operations.js';

describe('classifyRequest', () => {
  const copy = { 'x-amz-copy-source': '/b/src' };
  it.each<[string, string, Record<string, string>, S3Operation]>([
    ['PUT', '/b?notification', {}, { kind: 'putNotification', bucket: 'b' }],
    ['PUT', '/b/?notification=', {}, { kind: 'putNotification', bucket: 'b' }],
    ['GET', '/b?notification', {}, { kind: 'getNotification', bucket: 'b' }],
    ['GET', '/b?uploads', {}, { kind: 'listMultipartUploads', bucket: 'b' }],
    [
      'GET',
      '/b?uploads&prefix=k%2F&max-uploads=2',
      {},
      { kind: 'listMultipartUploads', bucket: 'b' },
    ],
    ['DELETE', '/b?notification', {}, { kind: 'other' }],
    ['POST', '/b?delete', {}, { kind: 'deleteObjects', bucket: 'b' }],
    ['POST', '/b', {}, { kind: 'postObject', bucket: 'b' }],
    ['DELETE', '/b', {}, { kind: 'deleteBucket', bucket: 'b' }],
    ['PUT', '/b', {}, { kind: 'other' }],
    ['GET', '/', {}, { kind: 'other' }],
    [
      'PUT',
      '/b/a%20b%2Bc/%D0%B6.txt?x-id=PutObject',
      {},
      { kind: 'putObject', bucket: 'b', key: 'a b+c/ж.txt' },
    ],
    ['PUT', '/b/dir/', {}, { kind: 'putObject', bucket: 'b', key: 'dir/' }],
    ['PUT', '/b/a/../c', {}, { kind: 'putObject', bucket: 'b', key: 'a/../c' }],
    ['PUT', '/b/100%.txt', {}, { kind: 'putObject', bucket: 'b', key: '100%.txt' }],
    ['PUT', '/b/k', copy, { kind: 'copyObject', bucket: 'b', key: 'k' }],
    ['PUT', '/b/k?tagging', {}, { kind: 'other' }],
    ['GET', '/b/k', {}, { kind: 'other' }],
    ['DELETE', '/b/k', {}, { kind: 'deleteObject', bucket: 'b', key: 'k' }],
    ['DELETE', '/b/k?versionId=null', {}, { kind: 'deleteObject', bucket: 'b', key: 'k' }],
    [
      'DELETE',
      '/b/k?uploadId=u1',
      {},
      { kind: 'abortMultipartUpload', bucket: 'b', key: 'k', uploadId: 'u1' },
    ],
    [
      'PUT',
      '/b/k?partNumber=1&uploadId=u1',
      {},
      { kind: 'uploadPart', bucket: 'b', key: 'k', uploadId: 'u1' },
    ],
    [
      'POST',
      '/b/k?uploadId=u1',
      {},
      { kind: 'completeMultipartUpload', bucket: 'b', key: 'k', uploadId: 'u1' },
    ],
    ['POST', '/b/k?uploads', {}, { kind: 'other' }],
  ])('%s %s is %o', (method, url, headers, expected) => {
    expect(classifyRequest(method, url, headers)).toEqual(expected);
  });
});
