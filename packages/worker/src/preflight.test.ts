import { loadConfig } from '@s3relay/core';
import { describe, expect, it } from 'vitest';
import { bucketTargets } from './preflight.js';

const names = (env: Record<string, string>) =>
  bucketTargets(loadConfig(env)).map((target) => `${target.side}:${target.bucket}`);

describe('bucketTargets', () => {
  it('checks every source bucket and the backup bucket its configuration names', () => {
    expect(names({ SOURCE_BUCKETS: 'photos', DEST_BUCKET: 'backup' })).toEqual([
      'source:photos',
      'backup:backup',
    ]);
  });

  it('expands {bucket} once per source bucket', () => {
    expect(names({ SOURCE_BUCKETS: 'photos,logs', DEST_BUCKET: '{bucket}-copy' })).toEqual([
      'source:photos',
      'source:logs',
      'backup:photos-copy',
      'backup:logs-copy',
    ]);
  });

  it('checks nothing it cannot name: no SOURCE_BUCKETS and a {bucket} backup', () => {
    expect(names({})).toEqual([]);
  });

  it('a script worker checks only the source', () => {
    expect(
      names({ SOURCE_BUCKETS: 'photos', ACTION: 'script', ACTION_SCRIPT: '/bin/true' }),
    ).toEqual(['source:photos']);
  });
});
