import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type GetObjectCommandOutput,
  type HeadObjectCommandOutput,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  PermanentError,
  TransientError,
  isRecopy,
  type Config,
  type ErrorContext,
  type Logger,
  type Task,
} from '@s3relay/core';
import {
  backupBucket,
  backupKey,
  backupKeyFits,
  classifySourceError,
  contentHeaders,
  isObjectNotFound,
  isSourceObjectGone,
  provenanceMatches,
  provenanceMetadata,
  sameSourceState,
  taggingHeader,
  tagsMatch,
  tagsMetadata,
  type BackupLocation,
  type BackupState,
  type ObjectTag,
  type SourceState,
} from '@s3relay/core/s3';
import type { ActionResult, TaskAction } from './action.js';
import { BufferReclaimer } from './buffer-reclaimer.js';
import type { DeleteGate } from './delete-gate.js';
import { uploadMultipart } from './multipart-upload.js';
import { SourceStream } from './source-stream.js';

export interface ReplicateOptions {
  readonly source: S3Client;
  readonly dest: S3Client;
  /** DEST_BUCKET and DEST_PREFIX. */
  readonly backup: BackupLocation;
  readonly worker: Pick<
    Config['worker'],
    'partSizeBytes' | 'partQueueSize' | 'replicateDeletes' | 'replicateTags' | 'sourceIdleTimeoutMs'
  >;
  /**
   * What must hold before a backup object is deleted, besides the source's `NoSuchKey`; it may
   * hold the delete instead (DELETE_LIMIT).
   */
  readonly deleteGate: DeleteGate;
  /**
   * Resolves when the backup bucket can be used; rejects naming it otherwise (see
   * `BackupBucketCheck`). Asked before every task, so it answers from memory once it passed.
   */
  readonly backupBucketReady: (bucket: string) => Promise<void>;
  /** Publishes one more task for the key (the source changed while it was being replicated). */
  readonly enqueueRecheck: (task: Task, current: SourceState | undefined) => Promise<void>;
}

/**
 * A body this small is read to its end and dropped rather than destroyed when it is not needed,
 * so that its keep-alive connection can serve the next request.
 */
const DRAIN_LIMIT_BYTES = 64 * 1024;

/**
 * Objects up to this size are copied without first comparing the backup when the task says they
 * were just created: re-copying one costs a request, like the comparison it saves.
 */
export const COPY_WITHOUT_COMPARING_BYTES = 256 * 1024;

/** True when the task almost certainly needs a copy, so the backup HEAD would be wasted. */
function expectsCopy(task: Task): boolean {
  if (task.origin === 'resync') return task.kind === 'created';
  return task.kind === 'created' && task.size !== null && task.size <= COPY_WITHOUT_COMPARING_BYTES;
}

function settled<T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> {
  return promise.then(
    (value) => ({ status: 'fulfilled', value }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  );
}

/** Where a task's object goes. */
interface Target {
  readonly bucket: string;
  readonly key: string;
}

/**
 * The replicate action: makes the backup object match the source object's current state,
 * whatever the task's event said (docs/ARCHITECTURE.md, "Why the worker reconciles instead of
 * replaying events").
 *
 * Requests per task, `‖` meaning in parallel:
 * - backup up to date: GET source ‖ HEAD backup (the GET body is dropped) — 2 requests;
 * - copy: GET source ‖ HEAD backup, PUT (or a multipart upload above PART_SIZE_MB), HEAD source
 *   (did it change while copying?) — 4 requests for an object up to one part;
 * - source gone, backup present: GET ‖ HEAD, DELETE backup, HEAD source — 4 requests (plus a
 *   listing of the source bucket at most once a minute, the delete gate's proof that it exists);
 * - source and backup gone: GET ‖ HEAD — 2 requests.
 *
 * A `resync --deep` task for a key whose bytes differ ({@link isRecopy}) is copied without
 * comparing at all: its backup's metadata matches although its bytes do not.
 *
 * Tasks that almost certainly need a copy skip the backup HEAD: a webhook's create of an object
 * of at most {@link COPY_WITHOUT_COMPARING_BYTES} (by the event's size), and `resync`'s missing
 * or different keys (the listing already compared them). A new small object then costs 3
 * requests instead of 4, which is what bounds small-object throughput (every request costs
 * about a millisecond of SDK CPU); the price is that a duplicate of such a create re-copies a
 * small object instead of comparing (3 requests instead of 2, and a new version on a versioned
 * backup). When the GET shows the guess was wrong (a larger object, or none), the HEAD is made
 * then.
 *
 * The GET's own response headers stand in for a HEAD of the source: its ETag, Last-Modified and
 * Content-Length describe exactly the bytes of its body, and its tag count says whether tags
 * need reading (GetObjectTagging, one more request for tagged objects only). Tags are part of
 * the comparison through their digest in the backup's metadata; a change of tags alone re-copies
 * the object, since S3 cannot change a backup's metadata without rewriting it.
 *
 * The task's versionId is not used: the backup mirrors the source's current version, which is
 * what makes reordered events converge (reading the event's version would write an older
 * version over a newer one when events arrive reversed).
 */
export function createReplicateAction(options: ReplicateOptions): TaskAction {
  const { source, dest } = options;
  const reclaimer = new BufferReclaimer();

  return async (task, { signal, logger }) => {
    const context: ErrorContext = { bucket: task.bucket, key: task.key, messageId: task.id };
    if (!backupKeyFits(options.backup, task.bucket, task.key)) {
      throw new PermanentError(
        'RELAY_COPY_KEY_TOO_LONG',
        "the backup key (DEST_PREFIX + key) is longer than S3's 1,024 bytes",
        { context },
      );
    }
    const target: Target = {
      bucket: backupBucket(options.backup, task.bucket),
      key: backupKey(options.backup, task.bucket, task.key),
    };
    await options.backupBucketReady(target.bucket);
    const startedAt = performance.now();
    const headBackup = () =>
      dest.send(new HeadObjectCommand({ Bucket: target.bucket, Key: target.key }), {
        abortSignal: signal,
      });
    const copyExpected = expectsCopy(task);
    const [got, head] = await Promise.allSettled([
      source.send(new GetObjectCommand({ Bucket: task.bucket, Key: task.key }), {
        abortSignal: signal,
      }),
      copyExpected ? undefined : headBackup(),
    ]);
    const response = got.status === 'fulfilled' ? got.value : undefined;
    let bodyHandedOff = false;
    try {
      if (response === undefined) {
        if (got.status === 'rejected' && !isSourceObjectGone(got.reason)) {
          throw classifySourceError(got.reason, context);
        }
        const backup = backupStateOf(copyExpected ? await settled(headBackup()) : head);
        return await reconcileMissing(task, target, backup, {
          provenAt: startedAt,
          signal,
          context,
        });
      }
      const current = sourceStateOf(response, context);
      const tags = await sourceTags(task, response, signal);
      const compare =
        !isRecopy(task) && (!copyExpected || current.size > COPY_WITHOUT_COMPARING_BYTES);
      const backup = !compare
        ? undefined
        : backupStateOf(copyExpected ? await settled(headBackup()) : head);
      if (backup !== undefined && provenanceMatches(current, backup) && tagsMatch(tags, backup)) {
        logger.debug('backup is up to date', { eTag: current.eTag });
        return { outcome: 'unchanged' };
      }
      bodyHandedOff = true;
      await copy(response, current, tags, target, { signal, logger, context });
      const copyMs = performance.now() - startedAt;
      await recheck(task, current, signal);
      return { outcome: 'copied', bytes: current.size, copyMs };
    } finally {
      if (!bodyHandedOff) release(response);
    }
  };

  /**
   * The tags of the object the GET is reading: none without a request when the GET counted none
   * (or tags are not replicated). Read by version when the source has versions, so that they
   * belong to the bytes being copied.
   */
  async function sourceTags(
    task: Task,
    response: GetObjectCommandOutput,
    signal: AbortSignal,
  ): Promise<readonly ObjectTag[]> {
    if (!options.worker.replicateTags || (response.TagCount ?? 0) === 0) return [];
    const versionId = response.VersionId === 'null' ? undefined : response.VersionId;
    const tagging = await source.send(
      new GetObjectTaggingCommand({ Bucket: task.bucket, Key: task.key, VersionId: versionId }),
      { abortSignal: signal },
    );
    return tagging.TagSet ?? [];
  }

  /**
   * The source answered `NoSuchKey`: delete the backup when deletes are replicated and the delete
   * gate lets it through (or leave it, held by the delete breaker).
   */
  async function reconcileMissing(
    task: Task,
    target: Target,
    backup: BackupState | undefined,
    proof: { provenAt: number; signal: AbortSignal; context: ErrorContext },
  ): Promise<ActionResult> {
    if (backup === undefined || !options.worker.replicateDeletes) return { outcome: 'absent' };
    const { signal, context } = proof;
    const verdict = await options.deleteGate.admit({ task, ...proof });
    if (verdict === 'held') return { outcome: 'held' };
    if (verdict === 'reappeared') {
      // The retry copies it.
      throw new TransientError(
        'RELAY_SOURCE_REAPPEARED',
        'the source object is there again; the backup was not deleted',
        { context },
      );
    }
    await dest.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: target.key }), {
      abortSignal: signal,
    });
    await recheck(task, undefined, signal);
    return { outcome: 'deleted' };
  }

  /**
   * After a write or a delete, looks at the source once more and enqueues one more task when it
   * changed meanwhile: a newer version may have been copied (or the key recreated) by another
   * task that finished before this one, and this task's older write must not be the last word.
   */
  async function recheck(task: Task, written: SourceState | undefined, signal: AbortSignal) {
    let current: SourceState | undefined;
    try {
      const now = await source.send(new HeadObjectCommand({ Bucket: task.bucket, Key: task.key }), {
        abortSignal: signal,
      });
      current = sourceStateOf(now, { bucket: task.bucket, key: task.key, messageId: task.id });
    } catch (err) {
      if (!isObjectNotFound(err)) throw err;
    }
    const changed =
      written === undefined || current === undefined
        ? written !== current
        : !sameSourceState(written, current);
    if (changed) await options.enqueueRecheck(task, current);
  }

  /** Streams the GET body into the backup: one PUT up to a part, a multipart upload above. */
  async function copy(
    response: GetObjectCommandOutput,
    current: SourceState,
    tags: readonly ObjectTag[],
    target: Target,
    run: { signal: AbortSignal; logger: Logger; context: ErrorContext },
  ): Promise<void> {
    const stream = new SourceStream(response.Body as Readable, {
      expectedLength: current.size,
      idleTimeoutMs: options.worker.sourceIdleTimeoutMs,
      context: run.context,
      onReceived: reclaimer.received,
    });
    const params = {
      Bucket: target.bucket,
      Key: target.key,
      ...contentHeaders(response),
      Metadata: { ...response.Metadata, ...provenanceMetadata(current), ...tagsMetadata(tags) },
      Tagging: taggingHeader(tags),
    } satisfies PutObjectCommandInput;
    // Its consumer (the PUT's pipe, the multipart reader) reports its errors; this listener only
    // keeps an error raised while no consumer listens (an abort during CreateMultipartUpload)
    // from becoming an uncaught exception.
    stream.on('error', () => undefined);
    // The GET's own abort signal stops a body that is still arriving; this also stops one that
    // already arrived and sits in the stream's buffer.
    const onAbort = () => stream.destroy(abortError(run.signal));
    run.signal.addEventListener('abort', onAbort, { once: true });
    try {
      if (current.size <= options.worker.partSizeBytes) {
        await putSingle(params, stream, current.size, run.signal);
      } else {
        await uploadMultipart({
          client: dest,
          params,
          body: stream,
          size: current.size,
          partSizeBytes: options.worker.partSizeBytes,
          queueSize: options.worker.partQueueSize,
          signal: run.signal,
          logger: run.logger,
          context: run.context,
        });
      }
    } finally {
      run.signal.removeEventListener('abort', onAbort);
      if (!stream.destroyed) stream.destroy();
    }
  }

  async function putSingle(
    params: PutObjectCommandInput,
    stream: SourceStream,
    size: number,
    signal: AbortSignal,
  ): Promise<void> {
    // The SDK pipes the body into the request, and a pipe does not end the request when the
    // body fails: abort the PUT ourselves so that a stalled or cut source never leaves it hanging.
    const controller = new AbortController();
    const abort = (reason: unknown) => controller.abort(reason);
    const onAbort = () => abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    stream.once('error', abort);
    try {
      await dest.send(new PutObjectCommand({ ...params, Body: stream, ContentLength: size }), {
        abortSignal: controller.signal,
      });
    } catch (err) {
      throw stream.errored ?? err;
    } finally {
      signal.removeEventListener('abort', onAbort);
      stream.off('error', abort);
    }
  }
}

function backupStateOf(
  head: PromiseSettledResult<HeadObjectCommandOutput | undefined>,
): BackupState | undefined {
  if (head.status === 'fulfilled') {
    if (head.value === undefined) return undefined;
    return { metadata: head.value.Metadata, size: head.value.ContentLength };
  }
  if (isObjectNotFound(head.reason)) return undefined;
  throw head.reason;
}

function sourceStateOf(
  output: Pick<HeadObjectCommandOutput, 'ETag' | 'LastModified' | 'ContentLength'>,
  context: ErrorContext,
): SourceState {
  const { ETag: eTag, LastModified: lastModified, ContentLength: size } = output;
  if (eTag === undefined || lastModified === undefined || size === undefined) {
    throw new PermanentError(
      'RELAY_S3_CLIENT_ERROR',
      'the source answered without ETag, Last-Modified or Content-Length',
      { context },
    );
  }
  return { eTag, lastModified, size };
}

/** Gives back the connection of a GET whose body is not needed. */
function release(response: GetObjectCommandOutput | undefined): void {
  const body = response?.Body as Readable | undefined;
  if (body === undefined) return;
  body.on('error', () => undefined);
  const size = response?.ContentLength;
  if (size !== undefined && size <= DRAIN_LIMIT_BYTES) body.resume();
  else body.destroy();
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error
    ? signal.reason
    : Object.assign(new Error('the task was aborted'), { name: 'AbortError' });
}
