import type { ErrorContext, Task } from '@s3relay/core';
import type { SourceBucketProof } from './bucket-proof.js';

/** The task whose backup object is about to be deleted. */
export interface DeleteRequest {
  readonly task: Task;
  readonly signal: AbortSignal;
  readonly context: ErrorContext;
}

/**
 * What must hold, besides the source's `NoSuchKey` for the key, before a backup object is
 * deleted. Shared by the replicate action and ACTION=script's `delete`, so that neither deletes
 * on less evidence than the other.
 */
export interface DeleteGate {
  /** Resolves when the delete may go ahead; throws a `RelayError` saying why not otherwise. */
  admit(request: DeleteRequest): Promise<void>;
}

export function createDeleteGate(deps: { readonly bucketProof: SourceBucketProof }): DeleteGate {
  return {
    async admit({ task, signal, context }) {
      await deps.bucketProof.assertExists(task.bucket, signal, context);
    },
  };
}
