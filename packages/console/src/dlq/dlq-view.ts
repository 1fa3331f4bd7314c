import type {
  DlqEntryDetail,
  DlqEntryView,
  DlqFilter,
  DlqListResponse,
  Facet,
  ScanState,
} from '../api-types.js';
import type { ConsoleOperations, ParkedEntry, ParkedSelection, Progress } from '../operations.js';

/** Parked tasks the console keeps from one scan; the page says when the DLQ holds more. */
export const KEPT_ENTRIES = 5000;

/**
 * The DLQ as the last scan found it. Reading the DLQ means walking all of it (see `s3relay dlq
 * list`), so the console walks it when asked and after each replay or drop, not on every page
 * refresh; the page compares the scan with the live depth and offers a rescan.
 */
export class DlqView {
  readonly #operations: ConsoleOperations;
  #entries: readonly ParkedEntry[] = [];
  #total = 0;
  #scannedAt: number | undefined;
  #running = false;
  #error: string | undefined;

  constructor(operations: ConsoleOperations) {
    this.#operations = operations;
  }

  /** Walks the DLQ and keeps what it found. */
  async scan(onProgress: Progress, now: () => number = Date.now): Promise<ScanState> {
    this.#running = true;
    try {
      const listing = await this.#operations.listDlq(KEPT_ENTRIES, onProgress);
      this.#entries = listing.entries;
      this.#total = listing.total;
      this.#scannedAt = now();
      this.#error = undefined;
    } catch (err) {
      this.#error = err instanceof Error ? err.message : String(err);
      throw err;
    } finally {
      this.#running = false;
    }
    return this.state;
  }

  get state(): ScanState {
    return {
      scannedAt: this.#scannedAt,
      total: this.#total,
      kept: this.#entries.length,
      running: this.#running,
      error: this.#error,
    };
  }

  /** The kept entries matching `filter`, a page of them, and the values to filter by. */
  list(
    filter: DlqFilter,
    page: { offset: number; limit: number },
    depth: number | undefined,
  ): DlqListResponse {
    const selection = toSelection(filter);
    const matching: DlqEntryView[] = [];
    this.#entries.forEach((entry, key) => {
      if (this.#operations.matches(entry, selection)) matching.push(toView(entry, key));
    });
    return {
      scan: this.state,
      depth,
      matching: matching.length,
      entries: matching.slice(page.offset, page.offset + page.limit),
      facets: {
        buckets: facets(this.#entries.map((entry) => entry.task?.bucket)),
        errorCodes: facets(this.#entries.map((entry) => entry.errorCode)),
      },
    };
  }

  /** One kept entry with its headers and body. */
  entry(key: number): DlqEntryDetail | undefined {
    const entry = this.#entries[key];
    if (entry === undefined) return undefined;
    return { ...toView(entry, key), headers: entry.headers, task: entry.task, body: entry.body };
  }
}

/** The page's filter as the operations take it. */
export function toSelection(filter: DlqFilter, ids?: readonly string[]): ParkedSelection {
  return {
    ids,
    bucket: filter.bucket,
    errorCode: filter.errorCode,
    since: filter.since === undefined ? undefined : new Date(filter.since),
    until: filter.until === undefined ? undefined : new Date(filter.until),
  };
}

export function toView(entry: ParkedEntry, key: number): DlqEntryView {
  return {
    key,
    id: entry.messageId,
    bucket: entry.task?.bucket,
    objectKey: entry.task?.key,
    invalidReason: entry.invalidReason,
    errorCode: entry.errorCode,
    error: entry.error,
    attempts: entry.attempts,
    firstFailedAt: entry.firstFailedAt,
    lastFailedAt: entry.lastFailedAt,
  };
}

function facets(values: readonly (string | undefined)[]): Facet[] {
  const counts = new Map<string, number>();
  for (const value of values) {
    if (value !== undefined) counts.set(value, (counts.get(value) ?? 0) + 1);
  }
  return [...counts]
    .map(([value, count]) => ({ value, count }))
    .sort((a, b) => b.count - a.count || a.value.localeCompare(b.value));
}
