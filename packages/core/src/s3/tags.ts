import { createHash } from 'node:crypto';
import type { BackupState } from './provenance.js';

/**
 * Object tags on the backup. S3 keeps tags beside an object, not in its bytes or metadata: a GET
 * only counts them (`x-amz-tagging-count`, absent when there are none), GetObjectTagging reads
 * them, and a PUT or CreateMultipartUpload sets them (`x-amz-tagging`). The worker reads tags
 * only for objects whose GET counted some, so untagged objects cost no extra request, and
 * records their digest in the backup's metadata, so that a change of tags alone is noticed.
 */

/** One tag, as the SDK's TagSet carries it. */
export interface ObjectTag {
  readonly Key?: string;
  readonly Value?: string;
}

/** User metadata holding the digest of the source object's tags; absent when it has none. */
export const PROVENANCE_TAGS = 's3relay-source-tags';

/** The tags as a sorted map: key → value (S3 keys are unique within an object). */
export function tagMap(tags: readonly ObjectTag[]): Map<string, string> {
  const entries = tags.map((tag): [string, string] => [tag.Key ?? '', tag.Value ?? '']);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return new Map(entries);
}

/** Hex SHA-256 of the tag set, independent of order; undefined for no tags. */
export function tagsDigest(tags: readonly ObjectTag[]): string | undefined {
  if (tags.length === 0) return undefined;
  return createHash('sha256')
    .update(JSON.stringify([...tagMap(tags)]))
    .digest('hex');
}

/** The metadata recording `tags` on a backup object: none for no tags. */
export function tagsMetadata(tags: readonly ObjectTag[]): Record<string, string> {
  const digest = tagsDigest(tags);
  return digest === undefined ? {} : { [PROVENANCE_TAGS]: digest };
}

/** True when the backup's recorded tags are exactly `tags` (both none included). */
export function tagsMatch(tags: readonly ObjectTag[], backup: BackupState): boolean {
  return backup.metadata?.[PROVENANCE_TAGS] === tagsDigest(tags);
}

/** The value of `x-amz-tagging` (the SDK's `Tagging`): URL query syntax; undefined for none. */
export function taggingHeader(tags: readonly ObjectTag[]): string | undefined {
  if (tags.length === 0) return undefined;
  return [...tagMap(tags)]
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .join('&');
}

/** True when two tag sets are equal, whatever their order. */
export function sameTags(a: readonly ObjectTag[], b: readonly ObjectTag[]): boolean {
  return tagsDigest(a) === tagsDigest(b);
}
