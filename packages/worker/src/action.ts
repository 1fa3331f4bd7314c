import type { Logger, Task } from '@s3relay/core';
import type { TaskOutcome } from './metrics.js';

/** What an action may conclude; failures are thrown instead. */
export type ActionOutcome = Extract<
  TaskOutcome,
  'copied' | 'deleted' | 'unchanged' | 'absent' | 'held' | 'executed' | 'ignored'
>;

export interface ActionResult {
  readonly outcome: ActionOutcome;
  /** Bytes written to the backup. */
  readonly bytes?: number;
  /** How long the copy itself took (source request to backup written). */
  readonly copyMs?: number;
}

export interface ActionContext {
  /** Aborted when the worker shuts down; the action must stop and release what it holds. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

/**
 * Does the work of one task. It must be idempotent (deliveries are at-least-once) and throw a
 * `RelayError` (or an error `classifyS3Error` understands) when it fails.
 */
export type TaskAction = (task: Task, context: ActionContext) => Promise<ActionResult>;
