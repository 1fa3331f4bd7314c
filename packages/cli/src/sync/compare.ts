import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { provenanceMatches, sameTags, type ObjectTag } from '@s3relay/core/s3';
import type { KeyPair } from './listing.js';

/** How a key of the source relates to its backup. */
export type KeyStatus = 'equal' | 'missing' | 'extra' | 'different';

export interface KeyComparison {
  readonly key: string;
  readonly status: KeyStatus;
  /** Why a key differs: `size`, `provenance`, `content` or `tags`. */
  readonly reason?: 'size' | 'provenance' | 'content' | 'tags';
}

export interface CompareContext {
  readonly source: S3Client;
  readonly backup: S3Client;
  readonly sourceBucket: string;
  readonly backupBucket: string;
  /** The backup key of a source key. */
  readonly backupKeyOf: (key: string) => string;
  /** Compare the bytes (SHA-256 of both streams) instead of the provenance metadata. */
  readonly deep: boolean;
  /** Compare the object tags of keys that are otherwise equal (GetObjectTagging on both sides). */
  readonly tags: boolean;
  readonly signal?: AbortSignal;
}

/**
 * Compares one key. Cheap checks first: presence, then size; equal ETags mean equal bytes (both
 * sides hashed the same parts); otherwise the backup's provenance metadata (one HEAD) says
 * whether it is a copy of the source's current state. `deep` streams both objects instead. With
 * `tags`, a key equal so far is also compared by its tags (listings do not carry them).
 */
export async function compareKey(pair: KeyPair, context: CompareContext): Promise<KeyComparison> {
  const comparison = await compareObjects(pair, context);
  if (comparison.status !== 'equal' || !context.tags) return comparison;
  const [sourceTags, backupTags] = await Promise.all([
    tagsOf(context.source, context.sourceBucket, pair.key, context.signal),
    tagsOf(context.backup, context.backupBucket, context.backupKeyOf(pair.key), context.signal),
  ]);
  return sameTags(sourceTags, backupTags)
    ? comparison
    : { key: pair.key, status: 'different', reason: 'tags' };
}

async function compareObjects(pair: KeyPair, context: CompareContext): Promise<KeyComparison> {
  const { source, backup } = pair;
  if (source === undefined) return { key: pair.key, status: 'extra' };
  if (backup === undefined) return { key: pair.key, status: 'missing' };
  if (source.size !== backup.size) return { key: pair.key, status: 'different', reason: 'size' };
  if (context.deep) {
    const [sourceHash, backupHash] = await Promise.all([
      sha256Of(context.source, context.sourceBucket, pair.key, context.signal),
      sha256Of(context.backup, context.backupBucket, context.backupKeyOf(pair.key), context.signal),
    ]);
    return sourceHash === backupHash
      ? { key: pair.key, status: 'equal' }
      : { key: pair.key, status: 'different', reason: 'content' };
  }
  if (source.eTag !== '' && source.eTag === backup.eTag) return { key: pair.key, status: 'equal' };
  const head = await context.backup.send(
    new HeadObjectCommand({ Bucket: context.backupBucket, Key: context.backupKeyOf(pair.key) }),
    { abortSignal: context.signal },
  );
  const matches = provenanceMatches(source, { metadata: head.Metadata, size: head.ContentLength });
  return matches
    ? { key: pair.key, status: 'equal' }
    : { key: pair.key, status: 'different', reason: 'provenance' };
}

async function tagsOf(
  client: S3Client,
  bucket: string,
  key: string,
  signal?: AbortSignal,
): Promise<readonly ObjectTag[]> {
  const tagging = await client.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }), {
    abortSignal: signal,
  });
  return tagging.TagSet ?? [];
}

/** Hex SHA-256 of an object's bytes (one version when `versionId` is given), streamed. */
export async function sha256Of(
  client: S3Client,
  bucket: string,
  key: string,
  signal?: AbortSignal,
  versionId?: string,
): Promise<string> {
  const response = await client.send(
    new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }),
    { abortSignal: signal },
  );
  const hash = createHash('sha256');
  for await (const chunk of response.Body as Readable) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
