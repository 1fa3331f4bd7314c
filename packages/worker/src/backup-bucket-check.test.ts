import { PermanentError } from '@s3relay/core';
import { describe, expect, it } from 'vitest';
import { BackupBucketCheck } from './backup-bucket-check.js';

describe('BackupBucketCheck', () => {
  it('checks a bucket once, however many tasks ask at once or later', async () => {
    const checked: string[] = [];
    const subject = new BackupBucketCheck({
      check: (bucket) => {
        checked.push(bucket);
        return Promise.resolve();
      },
      checkedAtStart: ['fixed-backup'],
    });
    await Promise.all([subject.ensure('photos-copy'), subject.ensure('photos-copy')]);
    await subject.ensure('photos-copy');
    await subject.ensure('logs-copy');
    await subject.ensure('fixed-backup');
    expect(checked).toEqual(['photos-copy', 'logs-copy']);
  });

  it('fails with the check error for a while, then checks again', async () => {
    let now = 0;
    const missing = new PermanentError('RELAY_S3_NO_SUCH_BUCKET', 'backup bucket "x" is missing');
    let exists = false;
    let checks = 0;
    const subject = new BackupBucketCheck({
      check: () => {
        checks += 1;
        return exists ? Promise.resolve() : Promise.reject(missing);
      },
      checkedAtStart: [],
      failedMaxAgeMs: 5000,
      now: () => now,
    });
    await expect(subject.ensure('x-copy')).rejects.toBe(missing);
    exists = true;
    now = 4999;
    await expect(subject.ensure('x-copy')).rejects.toBe(missing);
    expect(checks).toBe(1);
    now = 5000;
    await subject.ensure('x-copy');
    await subject.ensure('x-copy');
    expect(checks).toBe(2);
  });
});
