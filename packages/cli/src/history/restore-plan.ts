import type { S3Client } from '@aws-sdk/client-s3';
import { forEachConcurrent } from '../concurrency.js';
import { sha256Of } from '../sync/compare.js';
import { joinByKey, listObjects, type ListedObject } from '../sync/listing.js';
import { versionAt, versionsToInspect } from './point-in-time.js';
import { detailVersion, type DetailedVersion } from './version-details.js';
import { listKeyHistories, type KeyHistory } from './versions.js';

/** What a restore does to one key of the target. */
export type RestoreAction =
  | { readonly kind: 'write'; readonly key: string; readonly version: DetailedVersion }
  | { readonly kind: 'delete'; readonly key: string };

export interface PlanCounts {
  /** Keys with a history in the backup, or present in the target. */
  keys: number;
  /** Already as they were at the moment. */
  unchanged: number;
  write: number;
  delete: number;
  /** Keys that did not exist at the moment and do not now. */
  absent: number;
  /** Target keys the backup has no history of: left alone (they may be newer than any backup). */
  untracked: number;
  /** Bytes to write. */
  bytes: number;
}

/** Where a restore reads and writes. */
export interface RestoreSides {
  readonly backup: S3Client;
  readonly backupBucket: string;
  /** DEST_PREFIX: backup keys are this + source key. */
  readonly backupRoot: string;
  readonly target: S3Client;
  readonly targetBucket: string;
  /** Restored keys are this + source key. */
  readonly targetRoot: string;
}

/**
 * Decides, key by key under `prefix`, what makes the target look as the source did at `at`:
 * the histories of the backup and the target's listing walked side by side (both in key order,
 * bounded memory), the deciding versions read with a HEAD each (see point-in-time.ts). A key is
 * unchanged when the target already holds those bytes: same size and the ETag of that version
 * (or of its source state), or, when both ETags are of multipart uploads made with different
 * part sizes, the same SHA-256. Target keys the backup never saw are left alone.
 */
export async function planRestore(
  sides: RestoreSides,
  options: {
    readonly prefix: string;
    readonly at: Date;
    readonly concurrency: number;
    readonly signal?: AbortSignal;
    readonly onAction: (action: RestoreAction) => Promise<void>;
    readonly onProgress?: (counts: PlanCounts) => void;
  },
): Promise<PlanCounts> {
  const counts: PlanCounts = {
    keys: 0,
    unchanged: 0,
    write: 0,
    delete: 0,
    absent: 0,
    untracked: 0,
    bytes: 0,
  };
  const histories = listKeyHistories(
    sides.backup,
    sides.backupBucket,
    sides.backupRoot + options.prefix,
    sides.backupRoot,
    options.signal,
  );
  const targets = listObjects(
    sides.target,
    sides.targetBucket,
    sides.targetRoot + options.prefix,
    sides.targetRoot,
    options.signal,
  );
  const pairs = joinByKey(histories, targets);
  await forEachConcurrent(pairs, options.concurrency, async ({ key, left, right }) => {
    counts.keys += 1;
    const pair = { key, history: left, target: right };
    const action = await decide(sides, pair, options.at, options.signal);
    if (action === 'unchanged' || action === 'absent' || action === 'untracked') {
      counts[action] += 1;
    } else {
      counts[action.kind] += 1;
      if (action.kind === 'write') counts.bytes += action.version.size;
      await options.onAction(action);
    }
    options.onProgress?.(counts);
  });
  return counts;
}

interface KeyPair {
  readonly key: string;
  readonly history: KeyHistory | undefined;
  readonly target: ListedObject | undefined;
}

async function decide(
  sides: RestoreSides,
  pair: KeyPair,
  at: Date,
  signal: AbortSignal | undefined,
): Promise<RestoreAction | 'unchanged' | 'absent' | 'untracked'> {
  const { key, history, target } = pair;
  if (history === undefined) return 'untracked';
  const backupKey = sides.backupRoot + key;
  const inspected = await Promise.all(
    versionsToInspect(history.versions, at).map((version) =>
      detailVersion(sides.backup, sides.backupBucket, backupKey, version, signal),
    ),
  );
  const chosen = versionAt(inspected, at);
  if (chosen === undefined || chosen.deleteMarker) {
    return target === undefined ? 'absent' : { kind: 'delete', key };
  }
  if (target !== undefined && (await holdsVersion(sides, key, target, chosen, signal))) {
    return 'unchanged';
  }
  return { kind: 'write', key, version: chosen };
}

/** True when the target object has exactly the bytes of `version`. */
export async function holdsVersion(
  sides: RestoreSides,
  key: string,
  target: Pick<ListedObject, 'size' | 'eTag'>,
  version: DetailedVersion,
  signal?: AbortSignal,
): Promise<boolean> {
  if (target.size !== version.size) return false;
  if (target.eTag === version.eTag || target.eTag === version.sourceETag) return true;
  if (!isMultipartETag(target.eTag) || !isMultipartETag(version.eTag)) return false;
  const [restored, kept] = await Promise.all([
    sha256Of(sides.target, sides.targetBucket, sides.targetRoot + key, signal),
    sha256Of(sides.backup, sides.backupBucket, sides.backupRoot + key, signal, version.versionId),
  ]);
  return restored === kept;
}

/** `<md5>-<parts>`: the ETag of a multipart upload, which depends on its part sizes. */
function isMultipartETag(eTag: string): boolean {
  return /-\d+$/.test(eTag);
}
