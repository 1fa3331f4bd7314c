import { describe, expect, it } from 'vitest';
import {
  PROVENANCE_TAGS,
  sameTags,
  taggingHeader,
  tagsDigest,
  tagsMatch,
  tagsMetadata,
} from './tags.js';

describe('object tags', () => {
  const tags = [
    { Key: 'team', Value: 'media & sound' },
    { Key: 'env', Value: 'prod=1' },
  ];

  it('encodes x-amz-tagging as a query string whose keys and values survive any character', () => {
    const header = taggingHeader(tags) ?? '';
    expect(header).toBe('env=prod%3D1&team=media%20%26%20sound');
    // Decoded the way a server reads a query string, the tags come back unchanged.
    const decoded = [...new URLSearchParams(header)].map(([Key, Value]) => ({ Key, Value }));
    expect(sameTags(decoded, tags)).toBe(true);
  });

  it('has no header, no digest and no metadata for no tags', () => {
    expect(taggingHeader([])).toBeUndefined();
    expect(tagsDigest([])).toBeUndefined();
    expect(tagsMetadata([])).toEqual({});
  });

  it('digests a tag set independently of order, and tells different sets apart', () => {
    expect(tagsDigest([...tags].reverse())).toBe(tagsDigest(tags));
    expect(tagsDigest([{ Key: 'env', Value: 'prod' }])).not.toBe(tagsDigest(tags));
    // Key and value boundaries matter: {a: "b=c"} is not {"a=b": "c"}.
    expect(tagsDigest([{ Key: 'a', Value: 'b=c' }])).not.toBe(
      tagsDigest([{ Key: 'a=b', Value: 'c' }]),
    );
  });

  it('matches a backup by the digest it records, none matching none', () => {
    const recorded = { metadata: tagsMetadata(tags), size: 1 };
    expect(recorded.metadata[PROVENANCE_TAGS]).toMatch(/^[0-9a-f]{64}$/);
    expect(tagsMatch(tags, recorded)).toBe(true);
    expect(tagsMatch([], recorded)).toBe(false);
    expect(tagsMatch([], { metadata: {}, size: 1 })).toBe(true);
    expect(tagsMatch(tags, { metadata: undefined, size: 1 })).toBe(false);
  });
});
