import type { S3Client } from '@aws-sdk/client-s3';
import type { ErrorContext, Task } from '@s3relay/core';
import type { SourceBucketProof } from './bucket-proof.js';
import type { DeleteBreaker } from './delete-breaker.js';
import { isSourceGone } from './source-gone.js';

/** The task whose backup object is about to be deleted. */
export interface DeleteRequest {
  readonly task: Task;
  /**
   * `performance.now()` when the request that answered `NoSuchKey` for the key was sent: the
   * age of the proof that the source object is gone.
   */
  readonly provenAt: number;
  readonly signal: AbortSignal;
  readonly context: ErrorContext;
}

/**
 * `admitted`: delete now. `held`: the task is in `<prefix>.held`; do nothing more.
 * `reappeared`: the proof was stale, the source has the object again; do not delete.
 */
export type GateVerdict = 'admitted' | 'held' | 'reappeared';

/**
 * A `NoSuchKey` older than this when the grant arrives is asked again: the key may have been
 * written meanwhile, and a delete then would leave the backup without an object the source has
 * until the next event copies it. One more GET, only after a slow broker or bucket proof.
 */
export const MAX_PROOF_AGE_MS = 1000;

/**
 * What must hold, besides the source's `NoSuchKey` for the key, before a backup object is
 * deleted. Shared by the replicate action and ACTION=script's `delete`, so that neither deletes
 * on less evidence, or more often, than the other.
 */
export interface DeleteGate {
  /**
   * Resolves `admitted` when the delete may go ahead, `held` when the delete breaker held it
   * (beyond DELETE_LIMIT), `reappeared` when the source has the object again; throws a
   * `RelayError` saying why not otherwise.
   */
  admit(request: DeleteRequest): Promise<GateVerdict>;
}

export function createDeleteGate(deps: {
  readonly source: S3Client;
  readonly bucketProof: SourceBucketProof;
  readonly breaker: Pick<DeleteBreaker, 'pass'>;
  readonly maxProofAgeMs?: number;
}): DeleteGate {
  const maxProofAgeMs = deps.maxProofAgeMs ?? MAX_PROOF_AGE_MS;
  return {
    async admit({ task, provenAt, signal, context }) {
      await deps.bucketProof.assertExists(task.bucket, signal, context);
      // Last: a grant is spent only on a delete that has every other proof.
      const verdict = await deps.breaker.pass(task, signal);
      if (verdict !== 'granted') return 'held';
      const stale = performance.now() - provenAt > maxProofAgeMs;
      if (stale && !(await isSourceGone(deps.source, task, signal, context))) return 'reappeared';
      return 'admitted';
    },
  };
}
