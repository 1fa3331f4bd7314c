/**
 * The console's JSON API, shared by the server and the page (ui/), which imports these types
 * only. Times are epoch milliseconds; rates are per second.
 */

export interface OverviewResponse {
  readonly now: number;
  readonly prefix: string;
  readonly broker: { readonly connected: boolean; readonly url: string };
  readonly queues: readonly QueueView[];
  readonly workers: {
    /** Workers whose snapshots arrive. */
    readonly reporting: number;
    /** Consumers of the tasks queue, as the broker counts them (undefined when unknown). */
    readonly consumers: number | undefined;
  };
  readonly processes: readonly ProcessView[];
  readonly now1m: WindowFigures;
  readonly series: Series;
  /** Failures by error code over the series' whole span. */
  readonly failures: readonly FailureView[];
  readonly held: HeldSummary;
  /** How often services report (the largest interval heard), to tell how fresh figures are. */
  readonly telemetryIntervalMs: number | undefined;
}

export interface QueueView {
  readonly role: 'tasks' | 'retry' | 'dlq' | 'held';
  readonly queue: string;
  /** Ready messages (a quorum queue's depth without the ones being worked on). */
  readonly messages: number;
  readonly consumers: number;
  /** Change of the depth over the last minute (negative: draining). */
  readonly changeLastMinute: number | undefined;
}

export interface ProcessView {
  readonly id: string;
  readonly role: 'ingress' | 'worker';
  readonly host: string;
  readonly pid: number;
  readonly startedAt: number;
  readonly lastSeenAt: number;
  /** `live`; `late` (no snapshot for a few intervals); `stopped` (said goodbye). */
  readonly state: 'live' | 'late' | 'stopped';
  readonly details: Readonly<Record<string, string | number>>;
  /** Worker: tasks being handled now. */
  readonly inFlight: number | undefined;
  /** Worker: tasks finished per second; ingress: records published per second. */
  readonly perSecond: number | undefined;
  readonly cpuPercent: number | undefined;
  readonly rssBytes: number | undefined;
}

/** Figures over a recent window. */
export interface WindowFigures {
  readonly windowMs: number;
  readonly copiedPerSecond: number;
  readonly deletedPerSecond: number;
  readonly unchangedPerSecond: number;
  readonly retriedPerSecond: number;
  readonly deadLetteredPerSecond: number;
  readonly bytesPerSecond: number;
  readonly webhooksPerSecond: number;
  readonly recordsPerSecond: number;
  readonly lag: LagFigures;
}

/** Replication lag (event accepted → backup written) percentiles, in seconds. */
export interface LagFigures {
  readonly count: number;
  readonly p50: number | undefined;
  readonly p90: number | undefined;
  readonly p99: number | undefined;
}

/** Per-step values over the last minutes, oldest first, for the charts. */
export interface Series {
  readonly start: number;
  readonly stepMs: number;
  /** Objects written to the backup (copied) per second. */
  readonly copied: readonly number[];
  /** Tasks that failed an attempt (retried or parked) per second. */
  readonly failed: readonly number[];
  /** Records the ingress published per second. */
  readonly records: readonly number[];
  readonly bytes: readonly number[];
  readonly lagP50: readonly (number | null)[];
  readonly lagP99: readonly (number | null)[];
  /** Depths sampled at each step's end. */
  readonly depth: {
    readonly tasks: readonly (number | null)[];
    readonly retry: readonly (number | null)[];
    readonly dlq: readonly (number | null)[];
  };
  readonly lag: LagFigures;
}

export interface FailureView {
  readonly code: string;
  readonly retries: number;
  readonly deadLetters: number;
}

export interface HeldSummary {
  /** False while the broker has no `<prefix>.held` queue (no process has declared it yet). */
  readonly available: boolean;
  readonly messages: number | undefined;
}

/** What selects parked tasks, as `s3relay dlq` takes it. */
export interface DlqFilter {
  readonly bucket?: string;
  readonly errorCode?: string;
  /** ISO times bounding the last failure. */
  readonly since?: string;
  readonly until?: string;
}

/** One parked task as a row of the table. */
export interface DlqEntryView {
  /** Position in the scan, to open the entry. */
  readonly key: number;
  readonly id: string | undefined;
  readonly bucket: string | undefined;
  readonly objectKey: string | undefined;
  readonly invalidReason: string | undefined;
  readonly errorCode: string;
  readonly error: string;
  readonly attempts: number | undefined;
  readonly firstFailedAt: string | undefined;
  readonly lastFailedAt: string | undefined;
}

/** One parked task with everything the message carries. */
export interface DlqEntryDetail extends DlqEntryView {
  readonly headers: Readonly<Record<string, unknown>>;
  /** The task as parsed, or the raw body when it is not a task. */
  readonly task: unknown;
  readonly body: string | undefined;
}

export interface DlqListResponse {
  readonly scan: ScanState;
  /** The DLQ's depth now (it may have changed since the scan). */
  readonly depth: number | undefined;
  readonly matching: number;
  readonly entries: readonly DlqEntryView[];
  readonly facets: {
    readonly buckets: readonly Facet[];
    readonly errorCodes: readonly Facet[];
  };
}

export interface Facet {
  readonly value: string;
  readonly count: number;
}

export interface ScanState {
  readonly scannedAt: number | undefined;
  /** Messages in the DLQ when the scan ran. */
  readonly total: number;
  /** Entries the console keeps from the scan (it keeps at most a few thousand). */
  readonly kept: number;
  readonly running: boolean;
  readonly error: string | undefined;
}

/** A replay or drop: exact ids, or everything matching a filter (`all`). */
export interface DlqActionRequest {
  readonly ids?: readonly string[];
  readonly all?: boolean;
  readonly filter?: DlqFilter;
  readonly dryRun: boolean;
}

export interface DlqActionResult {
  readonly action: 'replay' | 'drop';
  readonly dryRun: boolean;
  readonly scanned: number;
  readonly matched: number;
  /** The first matched entries, for the confirmation. */
  readonly sample: readonly DlqEntryView[];
}

export interface ResyncRequest {
  readonly bucket: string;
  readonly prefix?: string;
  readonly dryRun: boolean;
  /** A real run names the finished dry run it follows (same bucket and prefix). */
  readonly preview?: string;
}

export interface ResyncResult {
  readonly bucket: string;
  readonly prefix: string;
  readonly backupBucket: string;
  readonly dryRun: boolean;
  readonly compared: number;
  readonly equal: number;
  readonly missing: number;
  readonly different: number;
  readonly extra: number;
  readonly enqueued: number;
  /** Extra backup objects not deleted: the console's resync never deletes (`resync --delete` does). */
  readonly extraLeftAlone: number;
  readonly differences: readonly { readonly key: string; readonly status: string }[];
}

export type JobKind = 'dlq-scan' | 'dlq-replay' | 'dlq-drop' | 'resync';

export interface JobView {
  readonly id: string;
  readonly kind: JobKind;
  readonly state: 'running' | 'done' | 'failed';
  readonly startedAt: number;
  readonly finishedAt: number | undefined;
  /** Counters the operation reports while it runs (scanned, compared, …). */
  readonly progress: Readonly<Record<string, number>>;
  readonly result: unknown;
  readonly error: string | undefined;
}

export interface ErrorResponse {
  readonly error: string;
  readonly message: string;
}
