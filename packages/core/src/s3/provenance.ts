import { PROVENANCE_TAGS } from './tags.js';

/**
 * How a backup object remembers where it came from. The worker writes these names; `resync` and
 * `verify` read them to tell an up-to-date backup from a stale one.
 */

/** User metadata (`x-amz-meta-…`) holding the source object's ETag, unquoted. */
export const PROVENANCE_ETAG = 's3relay-source-etag';
/** User metadata holding the source object's Last-Modified, ISO 8601 to the second. */
export const PROVENANCE_LAST_MODIFIED = 's3relay-source-last-modified';

/** Every metadata name s3relay owns on a backup object. */
export const PROVENANCE_METADATA_NAMES: readonly string[] = [
  PROVENANCE_ETAG,
  PROVENANCE_LAST_MODIFIED,
  PROVENANCE_TAGS,
];

/** What identifies one state of a source object. */
export interface SourceState {
  /** As S3 returns it; quotes are ignored. */
  readonly eTag: string;
  readonly lastModified: Date;
  readonly size: number;
}

/** What the backup's HEAD returns that matters for provenance. */
export interface BackupState {
  /** User metadata, names lower-cased (as the SDK returns them). */
  readonly metadata: Readonly<Record<string, string>> | undefined;
  readonly size: number | undefined;
}

/** An ETag without its quotes (S3 quotes them in headers, webhooks do not). */
export function normalizeETag(eTag: string): string {
  return eTag.replace(/^W\//, '').replace(/^"+|"+$/g, '');
}

/**
 * Last-Modified as stored in provenance: ISO 8601 truncated to the second, because HEAD and GET
 * carry it as an HTTP date (second precision) while listings may carry milliseconds.
 */
export function provenanceTimestamp(lastModified: Date): string {
  return new Date(Math.floor(lastModified.getTime() / 1000) * 1000).toISOString();
}

/** The provenance metadata to write on the copy of `source`. */
export function provenanceMetadata(source: SourceState): Record<string, string> {
  return {
    [PROVENANCE_ETAG]: normalizeETag(source.eTag),
    [PROVENANCE_LAST_MODIFIED]: provenanceTimestamp(source.lastModified),
  };
}

/**
 * True when the backup is a copy of exactly this state of the source: same ETag, same
 * Last-Modified (to the second) and same size. An overwrite with identical bytes still counts as
 * a change (its Last-Modified moved), because its content headers or metadata may differ.
 */
export function provenanceMatches(source: SourceState, backup: BackupState): boolean {
  const metadata = backup.metadata ?? {};
  return (
    metadata[PROVENANCE_ETAG] === normalizeETag(source.eTag) &&
    metadata[PROVENANCE_LAST_MODIFIED] === provenanceTimestamp(source.lastModified) &&
    backup.size === source.size
  );
}

/** True when two observations of a source object describe the same state. */
export function sameSourceState(a: SourceState, b: SourceState): boolean {
  return (
    normalizeETag(a.eTag) === normalizeETag(b.eTag) &&
    provenanceTimestamp(a.lastModified) === provenanceTimestamp(b.lastModified) &&
    a.size === b.size
  );
}
