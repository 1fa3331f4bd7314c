import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import { silentLogger } from '@s3relay/core';
import { PROVENANCE_METADATA_NAMES, contentHeaders, taggingHeader } from '@s3relay/core/s3';
import { SourceStream, uploadMultipart } from '@s3relay/worker';
import type { RestoreAction, RestoreSides } from './restore-plan.js';

export interface CopySettings {
  /** Objects above it are written as multipart uploads of parts this size (PART_SIZE_MB). */
  readonly partSizeBytes: number;
  readonly partQueueSize: number;
  readonly idleTimeoutMs: number;
}

/**
 * Carries out one planned action on the target. A write streams the backup version (by its
 * version id) into the target: one PUT up to a part, a multipart upload above it (memory: the
 * parts in flight), with the version's content headers, its user metadata without s3relay's
 * provenance, and its tags; exactly its size must arrive. A delete deletes the target key.
 */
export async function applyRestoreAction(
  sides: RestoreSides,
  action: RestoreAction,
  settings: CopySettings,
  signal?: AbortSignal,
): Promise<void> {
  const targetKey = sides.targetRoot + action.key;
  if (action.kind === 'delete') {
    await sides.target.send(
      new DeleteObjectCommand({ Bucket: sides.targetBucket, Key: targetKey }),
      {
        abortSignal: signal,
      },
    );
    return;
  }
  const { version } = action;
  const backupKey = sides.backupRoot + action.key;
  const tags = version.tagged
    ? ((
        await sides.backup.send(
          new GetObjectTaggingCommand({
            Bucket: sides.backupBucket,
            Key: backupKey,
            VersionId: version.versionId,
          }),
          { abortSignal: signal },
        )
      ).TagSet ?? [])
    : [];
  const response = await sides.backup.send(
    new GetObjectCommand({
      Bucket: sides.backupBucket,
      Key: backupKey,
      VersionId: version.versionId,
    }),
    { abortSignal: signal },
  );
  const body = new SourceStream(response.Body as Readable, {
    expectedLength: version.size,
    idleTimeoutMs: settings.idleTimeoutMs,
    context: { bucket: sides.backupBucket, key: backupKey },
  });
  body.on('error', () => undefined);
  const metadata = Object.fromEntries(
    Object.entries(response.Metadata ?? {}).filter(
      ([name]) => !PROVENANCE_METADATA_NAMES.includes(name),
    ),
  );
  const params = {
    Bucket: sides.targetBucket,
    Key: targetKey,
    ...contentHeaders(response),
    Metadata: metadata,
    Tagging: taggingHeader(tags),
  } satisfies PutObjectCommandInput;
  try {
    if (version.size <= settings.partSizeBytes) {
      await sides.target.send(
        new PutObjectCommand({ ...params, Body: body, ContentLength: version.size }),
        { abortSignal: signal },
      );
    } else {
      await uploadMultipart({
        client: sides.target,
        params,
        body,
        size: version.size,
        partSizeBytes: settings.partSizeBytes,
        queueSize: settings.partQueueSize,
        signal: signal ?? new AbortController().signal,
        logger: silentLogger,
        context: { bucket: sides.targetBucket, key: targetKey },
      });
    }
  } catch (err) {
    throw body.errored ?? err;
  } finally {
    if (!body.destroyed) body.destroy();
  }
}
