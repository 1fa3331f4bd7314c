import type { S3Client } from '@aws-sdk/client-s3';
import type { ErrorContext, Task } from '@s3relay/core';
import type { DeleteGate } from './delete-gate.js';
import { isSourceGone } from './source-gone.js';

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
    const provenAt = performance.now();
    if (!(await isSourceGone(deps.source, task, signal, context))) {
      return { proceed: false, reason: 'source-exists' };
    }
    const verdict = await deps.deleteGate.admit({ task, provenAt, signal, context });
    if (verdict === 'reappeared') return { proceed: false, reason: 'source-exists' };
    return verdict === 'admitted' ? { proceed: true } : { proceed: false, reason: 'held' };
  };
}
