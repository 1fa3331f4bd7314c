import type { ErrorContext, Task } from '@s3relay/core';
import type { SourceBucketProof } from './bucket-proof.js';
import type { DeleteBreaker } from './delete-breaker.js';

/** The task whose backup object is about to be deleted. */
export interface DeleteRequest {
  readonly task: Task;
  readonly signal: AbortSignal;
  readonly context: ErrorContext;
}

/** `admitted`: delete now. `held`: the task is in `<prefix>.held`; do nothing more. */
export type GateVerdict = 'admitted' | 'held';

/**
 * What must hold, besides the source's `NoSuchKey` for the key, before a backup object is
 * deleted. Shared by the replicate action and ACTION=script's `delete`, so that neither deletes
 * on less evidence, or more often, than the other.
 */
export interface DeleteGate {
  /**
   * Resolves `admitted` when the delete may go ahead, `held` when the delete breaker held it
   * (beyond DELETE_LIMIT); throws a `RelayError` saying why not otherwise.
   */
  admit(request: DeleteRequest): Promise<GateVerdict>;
}

export function createDeleteGate(deps: {
  readonly bucketProof: SourceBucketProof;
  readonly breaker: Pick<DeleteBreaker, 'pass'>;
}): DeleteGate {
  return {
    async admit({ task, signal, context }) {
      await deps.bucketProof.assertExists(task.bucket, signal, context);
      // Last: a grant is spent only on a delete that has every other proof.
      const verdict = await deps.breaker.pass(task, signal);
      return verdict === 'granted' ? 'admitted' : 'held';
    },
  };
}
