import type { ResyncResult } from './api-types.js';

/**
 * What the console does to the system, provided by the CLI from the same modules its commands
 * use (`s3relay status`, `dlq`, `resync`), so a replay from the page and one from a terminal are
 * the same operation. The console itself only presents them.
 */
export interface ConsoleOperations {
  /** Depth and consumers of every queue, as `s3relay status` reports them. */
  queues(): Promise<QueueSample[]>;
  /** Every parked task (up to `limit`), leaving the DLQ as it was. */
  listDlq(limit: number, onProgress: Progress): Promise<DlqListing>;
  /** Moves the selected parked tasks back to the tasks queue (a dry run moves nothing). */
  replayDlq(selection: ParkedSelection, dryRun: boolean, onProgress: Progress): Promise<DlqWalk>;
  /** Deletes the selected parked tasks for good (a dry run deletes nothing). */
  dropDlq(selection: ParkedSelection, dryRun: boolean, onProgress: Progress): Promise<DlqWalk>;
  /** The filter the walks above apply, to filter a listing the same way. */
  matches(entry: ParkedEntry, selection: ParkedSelection): boolean;
  /** Compares source and backup and enqueues what differs (a dry run enqueues nothing). */
  resync(request: ResyncOptions, onProgress: Progress): Promise<ResyncResult>;
}

/** Counters an operation reports while it runs. */
export type Progress = (counts: Readonly<Record<string, number>>) => void;

export interface QueueSample {
  readonly role: 'tasks' | 'retry' | 'dlq' | 'held';
  readonly queue: string;
  readonly messages: number;
  readonly consumers: number;
}

/** A parked message as `s3relay dlq list --json` describes it. */
export interface ParkedEntry {
  readonly messageId: string | undefined;
  readonly task: { readonly bucket: string; readonly key: string } | undefined;
  readonly invalidReason: string | undefined;
  readonly errorCode: string;
  readonly error: string;
  readonly attempts: number | undefined;
  readonly firstFailedAt: string | undefined;
  readonly lastFailedAt: string | undefined;
  readonly headers: Readonly<Record<string, unknown>>;
  /** The body, when it is not a valid task. */
  readonly body: string | undefined;
}

/** Which parked tasks an operation applies to: every condition given must hold. */
export interface ParkedSelection {
  readonly ids?: readonly string[];
  readonly bucket?: string;
  readonly errorCode?: string;
  /** Bounds of the last failure. */
  readonly since?: Date;
  readonly until?: Date;
}

export interface DlqListing {
  readonly total: number;
  readonly entries: readonly ParkedEntry[];
}

export interface DlqWalk {
  readonly scanned: number;
  readonly matched: readonly ParkedEntry[];
}

export interface ResyncOptions {
  readonly bucket: string;
  readonly prefix: string;
  readonly dryRun: boolean;
}
