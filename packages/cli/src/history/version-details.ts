import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { PROVENANCE_ETAG, PROVENANCE_LAST_MODIFIED, PROVENANCE_TAGS } from '@s3relay/core/s3';
import type { TimedVersion } from './point-in-time.js';
import type { BackupVersion } from './versions.js';

/** A version with what its HEAD says about the source state it copies. */
export interface DetailedVersion extends TimedVersion {
  /** The source's ETag of that state (provenance), unquoted; undefined for a delete marker. */
  readonly sourceETag: string | undefined;
  /** True when the copy carries tags (their digest is in its provenance). */
  readonly tagged: boolean;
  /** False for a version s3relay did not write (no provenance): its source time is a guess. */
  readonly provenance: boolean;
}

/**
 * Reads the provenance of one version (a HEAD of that version). A delete marker needs no
 * request: its source time is the backup's time of the delete. A version without provenance
 * (written by someone else) counts from the backup's time.
 */
export async function detailVersion(
  client: S3Client,
  bucket: string,
  backupKey: string,
  version: BackupVersion,
  signal?: AbortSignal,
): Promise<DetailedVersion> {
  if (version.deleteMarker) {
    return {
      ...version,
      sourceTime: version.backupTime,
      sourceETag: undefined,
      tagged: false,
      provenance: false,
    };
  }
  const head = await client.send(
    new HeadObjectCommand({ Bucket: bucket, Key: backupKey, VersionId: version.versionId }),
    { abortSignal: signal },
  );
  const metadata = head.Metadata ?? {};
  const recorded = Date.parse(metadata[PROVENANCE_LAST_MODIFIED] ?? '');
  const provenance = Number.isFinite(recorded);
  return {
    ...version,
    sourceTime: provenance ? new Date(recorded) : version.backupTime,
    sourceETag: metadata[PROVENANCE_ETAG],
    tagged: metadata[PROVENANCE_TAGS] !== undefined,
    provenance,
  };
}
