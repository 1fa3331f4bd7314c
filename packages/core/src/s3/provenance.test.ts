import { describe, expect, it } from 'vitest';
import {
  PROVENANCE_ETAG,
  PROVENANCE_LAST_MODIFIED,
  normalizeETag,
  provenanceMatches,
  provenanceMetadata,
  sameSourceState,
} from './provenance.js';

const source = {
  eTag: '"0cc175b9c0f1b6a831c399e269772661"',
  lastModified: new Date('2026-11-29T10:00:00.789Z'),
  size: 1,
};

describe('provenance', () => {
  it('writes the unquoted ETag and Last-Modified to the second', () => {
    expect(provenanceMetadata(source)).toEqual({
      [PROVENANCE_ETAG]: '0cc175b9c0f1b6a831c399e269772661',
      [PROVENANCE_LAST_MODIFIED]: '2026-11-29T10:00:00.000Z',
    });
    expect(normalizeETag('"abc-3"')).toBe('abc-3');
  });

  it('matches a backup written from the same state, also seen with millisecond precision', () => {
    const backup = { metadata: provenanceMetadata(source), size: 1 };
    expect(provenanceMatches(source, backup)).toBe(true);
    const listed = { ...source, eTag: '0cc175b9c0f1b6a831c399e269772661' };
    expect(
      provenanceMatches({ ...listed, lastModified: new Date('2026-11-29T10:00:00Z') }, backup),
    ).toBe(true);
  });

  it('does not match another ETag, another second, another size, or no provenance', () => {
    const backup = { metadata: provenanceMetadata(source), size: 1 };
    expect(provenanceMatches({ ...source, eTag: 'other' }, backup)).toBe(false);
    expect(
      provenanceMatches({ ...source, lastModified: new Date('2026-11-29T10:00:01Z') }, backup),
    ).toBe(false);
    expect(provenanceMatches({ ...source, size: 2 }, backup)).toBe(false);
    expect(provenanceMatches(source, { metadata: undefined, size: 1 })).toBe(false);
    expect(provenanceMatches(source, { metadata: {}, size: 1 })).toBe(false);
  });

  it('compares two observations of a source object', () => {
    expect(sameSourceState(source, { ...source, eTag: '0cc175b9c0f1b6a831c399e269772661' })).toBe(
      true,
    );
    expect(sameSourceState(source, { ...source, size: 3 })).toBe(false);
  });
});
