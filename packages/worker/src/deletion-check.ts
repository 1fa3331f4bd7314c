import type { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ErrorContext, Task } from '@s3relay/core';
import { classifySourceError, isSourceObjectGone } from '@s3relay/core/s3';
import type { DeleteGate } from './delete-gate.js';

/** Whether a delete for a task may run, and why not. */
export type DeletionVerdict =
  | { readonly proceed: true }
  | { readonly proceed: false; readonly reason: 'deletes-off' | 'source-exists' | 'held' };

/**
 * Decides whether a delete for `task` may run, on the evidence the replicate action needs:
 * deletes are replicated, the source answers `NoSuchKey` for the key, and the delete gate admits
 * it (`held`: the delete breaker held the task in `<prefix>.held` instead). Thrown when the source's answer is not proof either way (see `classifySourceError`).
 */
export type DeletionCheck = (
  task: Task,
  signal: AbortSignal,
  context: ErrorContext,
) => Promise<DeletionVerdict>;

export function createDeletionCheck(deps: {
  readonly source: S3Client;
  readonly deleteGate: DeleteGate;
  /** REPLICATE_DELETES (and a DELETE_LIMIT other than 0). */
  readonly replicateDeletes: boolean;
}): DeletionCheck {
  return async (task, signal, context) => {
    if (!deps.replicateDeletes) return { proceed: false, reason: 'deletes-off' };
    try {
      const response = await deps.source.send(
        new GetObjectCommand({ Bucket: task.bucket, Key: task.key }),
        { abortSignal: signal },
      );
      // Only the answer matters, not the bytes; a HEAD would not do, its 404 carries no S3 code.
      (response.Body as Readable | undefined)?.destroy();
      return { proceed: false, reason: 'source-exists' };
    } catch (err) {
      if (!isSourceObjectGone(err)) throw classifySourceError(err, context);
    }
    const verdict = await deps.deleteGate.admit({ task, signal, context });
    return verdict === 'admitted' ? { proceed: true } : { proceed: false, reason: 'held' };
  };
}
