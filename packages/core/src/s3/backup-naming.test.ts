import { describe, expect, it } from 'vitest';
import {
  backupBucket,
  backupKey,
  backupKeyFits,
  backupNamingProblem,
  sharedKeyPrefix,
} from './backup-naming.js';

const dest = { bucket: '{bucket}-backup', prefix: 'mirror/' };

describe('backup names', () => {
  it('expands {bucket} in the backup bucket, every occurrence', () => {
    expect(backupBucket(dest, 'photos')).toBe('photos-backup');
    expect(backupBucket({ bucket: '{bucket}.{bucket}', prefix: '' }, 'a')).toBe('a.a');
    expect(backupBucket({ bucket: 'fixed', prefix: '' }, 'a')).toBe('fixed');
  });

  it.each(['a b+c%20d', 'ünï/cödé', '../../etc/passwd', './x', 'a//b', '/lead', '?x=1#y'])(
    'keeps %j byte for byte under the prefix',
    (key) => {
      const result = backupKey(dest, 'photos', key);
      expect(result).toBe(`mirror/${key}`);
      expect(Buffer.from(result, 'utf8').subarray(0, 7).toString()).toBe('mirror/');
    },
  );

  it('expands {bucket} in the prefix, so that two source buckets never share a backup key', () => {
    const shared = { bucket: 'backup', prefix: 'hosts/{bucket}/' };
    expect(backupKey(shared, 'data', 'k')).toBe('hosts/data/k');
    expect(backupKey(shared, 'other', 'k')).toBe('hosts/other/k');
    expect(backupKey(shared, 'a', 'bc')).not.toBe(backupKey(shared, 'ab', 'c'));
    expect(sharedKeyPrefix(shared)).toBe('hosts/');
    expect(sharedKeyPrefix(dest)).toBe('mirror/');
  });

  it('tells when the expanded prefix + key exceeds 1,024 bytes of UTF-8', () => {
    expect(backupKeyFits({ bucket: 'b', prefix: '' }, 'x', 'k'.repeat(1024))).toBe(true);
    expect(backupKeyFits(dest, 'x', 'k'.repeat(1024 - 7))).toBe(true);
    expect(backupKeyFits(dest, 'x', 'k'.repeat(1024 - 6))).toBe(false);
    expect(backupKeyFits({ bucket: 'b', prefix: '' }, 'x', 'é'.repeat(513))).toBe(false);
    expect(backupKeyFits({ bucket: 'b', prefix: '{bucket}/' }, 'abc', 'k'.repeat(1020))).toBe(true);
    expect(backupKeyFits({ bucket: 'b', prefix: '{bucket}/' }, 'abcd', 'k'.repeat(1020))).toBe(
      false,
    );
  });
});

describe('backupNamingProblem', () => {
  it.each([
    ['a backup bucket per source bucket', { bucket: '{bucket}-backup', prefix: '' }, []],
    ['a prefix per source bucket', { bucket: 'backup', prefix: '{bucket}/' }, ['a', 'b']],
    ['a deeper prefix per source bucket', { bucket: 'backup', prefix: 'x/{bucket}/y/' }, []],
    ['one backup bucket for exactly one source bucket', { bucket: 'backup', prefix: 'm/' }, ['a']],
  ])('accepts %s', (_what, location, buckets) => {
    expect(backupNamingProblem(location, buckets)).toBeUndefined();
  });

  it.each([
    [[], 'is empty (any bucket)'],
    [['a', 'b'], 'lists 2 buckets'],
  ])(
    'refuses one backup bucket and prefix for SOURCE_BUCKETS=%j, naming both variables',
    (buckets, says) => {
      const problem = backupNamingProblem({ bucket: 'backup', prefix: 'mirror/' }, buckets);
      expect(problem).toContain(
        'DEST_BUCKET "backup" is one backup bucket for every source bucket',
      );
      expect(problem).toContain(`SOURCE_BUCKETS ${says}`);
      expect(problem).toContain('Set SOURCE_BUCKETS to the one source bucket');
      expect(problem).toContain('DEST_PREFIX={bucket}/');
    },
  );

  it('refuses {bucket} in the prefix without a "/" after it', () => {
    for (const prefix of ['{bucket}', 'x-{bucket}-y/', '{bucket}/{bucket}']) {
      expect(backupNamingProblem({ bucket: 'backup', prefix }, [])).toContain(
        'DEST_PREFIX must follow {bucket} with "/"',
      );
    }
  });
});
