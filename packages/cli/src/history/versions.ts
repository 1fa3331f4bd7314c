import { ListObjectVersionsCommand, type S3Client } from '@aws-sdk/client-s3';
import { normalizeETag } from '@s3relay/core/s3';
import { compareKeys } from '../sync/listing.js';

/** One version of a backup object, or a delete marker, as the backup lists it. */
export interface BackupVersion {
  readonly versionId: string;
  readonly deleteMarker: boolean;
  /** When the backup wrote it (the backup's clock). */
  readonly backupTime: Date;
  readonly size: number;
  /** Unquoted; '' for a delete marker. */
  readonly eTag: string;
  readonly isLatest: boolean;
}

/** Every version of one key, newest first by the backup's clock. */
export interface KeyHistory {
  /** Relative to the listed root (the source key). */
  readonly key: string;
  readonly versions: readonly BackupVersion[];
}

/**
 * The version history of every backup key under `prefix`, one key at a time in key order (bounded
 * memory: one page plus the versions of one key). The key's root `stripPrefix` (DEST_PREFIX) is
 * removed. S3 lists object versions and delete markers in two arrays, so each key's entries are
 * put back in order by their time, the current one first on a tie.
 */
export async function* listKeyHistories(
  client: S3Client,
  bucket: string,
  prefix: string,
  stripPrefix: string,
  signal?: AbortSignal,
): AsyncGenerator<KeyHistory> {
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  let pending: { key: string; versions: BackupVersion[] } | undefined;
  do {
    const page = await client.send(
      new ListObjectVersionsCommand({
        Bucket: bucket,
        Prefix: prefix === '' ? undefined : prefix,
        KeyMarker: keyMarker,
        VersionIdMarker: versionIdMarker,
        MaxKeys: 1000,
      }),
      { abortSignal: signal },
    );
    const entries = [
      ...(page.Versions ?? []).map((v) => ({
        raw: v,
        deleteMarker: false,
        size: v.Size,
        eTag: v.ETag,
      })),
      ...(page.DeleteMarkers ?? []).map((v) => ({
        raw: v,
        deleteMarker: true,
        size: 0,
        eTag: '',
      })),
    ];
    const byKey = new Map<string, BackupVersion[]>();
    for (const { raw, deleteMarker, size, eTag } of entries) {
      if (raw.Key === undefined || !raw.Key.startsWith(stripPrefix)) continue;
      const version: BackupVersion = {
        versionId: raw.VersionId ?? 'null',
        deleteMarker,
        backupTime: raw.LastModified ?? new Date(0),
        size: size ?? 0,
        eTag: normalizeETag(eTag ?? ''),
        isLatest: raw.IsLatest === true,
      };
      const list = byKey.get(raw.Key) ?? [];
      list.push(version);
      byKey.set(raw.Key, list);
    }
    // A page lists keys in order; the last key may go on in the next page.
    for (const key of [...byKey.keys()].sort(compareKeys)) {
      const versions = byKey.get(key) ?? [];
      if (pending !== undefined && pending.key === key) {
        pending.versions.push(...versions);
        continue;
      }
      if (pending !== undefined) yield finish(pending, stripPrefix);
      pending = { key, versions: [...versions] };
    }
    const more = page.IsTruncated === true;
    keyMarker = more ? page.NextKeyMarker : undefined;
    versionIdMarker = more ? page.NextVersionIdMarker : undefined;
  } while (keyMarker !== undefined);
  if (pending !== undefined) yield finish(pending, stripPrefix);
}

function finish(
  entry: { key: string; versions: BackupVersion[] },
  stripPrefix: string,
): KeyHistory {
  const versions = [...entry.versions].sort(
    (a, b) =>
      b.backupTime.getTime() - a.backupTime.getTime() || Number(b.isLatest) - Number(a.isLatest),
  );
  return { key: entry.key.slice(stripPrefix.length), versions };
}
