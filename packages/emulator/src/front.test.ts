import { describe, expect, it } from 'vitest';
import { copySourceForS3rver } from './front.js';

/** What s3rver does with the header (lib/controllers/object.js putObjectCopy). */
const s3rverReads = (header: string) => decodeURI(header);

describe('copySourceForS3rver', () => {
  it.each([
    ['b/a%20b%2Bc%2F%D0%B6.txt', 'b/a b+c/ж.txt'],
    ['/b/a%20b%2Bc/%D0%B6.txt', '/b/a b+c/ж.txt'],
    ['b/plain/key.txt', 'b/plain/key.txt'],
    ['b/100%25%3F.txt?versionId=null', 'b/100%?.txt'],
    ['b/a+b', 'b/a+b'],
  ])('makes s3rver read %j as %j', (header, source) => {
    expect(s3rverReads(copySourceForS3rver(header))).toBe(source);
  });
});
