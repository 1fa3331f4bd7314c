export type { ActionContext, ActionOutcome, ActionResult, TaskAction } from './action.js';
export { SourceBucketProof } from './bucket-proof.js';
export { createDeleteGate, type DeleteGate, type GateVerdict } from './delete-gate.js';
export { DeleteLedger, deleteLedgerName, type DeleteLedgerOptions } from './delete-ledger.js';
export { createWorkerMetrics, type TaskOutcome, type WorkerMetrics } from './metrics.js';
export { attemptOf, decideFailure, type FailureDecision } from './retry-policy.js';
export { uploadMultipart, type MultipartUploadOptions } from './multipart-upload.js';
export { SourceStream } from './source-stream.js';
export { createWorker, type Worker, type WorkerDeps } from './worker.js';
export {
  PROVENANCE_ETAG,
  PROVENANCE_LAST_MODIFIED,
  backupBucket,
  backupKey,
  provenanceMatches,
} from '@s3relay/core/s3';
