import { formatDuration, parseDurationMs } from './units.js';

/**
 * DELETE_LIMIT: at most `count` backup deletes by the whole fleet of workers in any window of
 * `windowMs` (give or take the tolerance the worker's delete ledger states). A count of 0 means
 * the backup never deletes.
 */
export interface DeleteLimit {
  readonly count: number;
  /** 0 with a count of 0. */
  readonly windowMs: number;
}

/** The most deletes one window may allow: a window's grants are messages in one queue. */
export const MAX_DELETE_LIMIT_COUNT = 1_000_000;
/**
 * The shortest and longest windows: a grant is a message whose TTL is the window, and RabbitMQ
 * takes TTLs up to 2^32 - 1 ms (about 49 days); below a second the broker's own expiry timing
 * would be most of the window.
 */
export const MIN_DELETE_WINDOW_MS = 1000;
export const MAX_DELETE_WINDOW_MS = 30 * 86_400_000;

/**
 * Parses `500/10m` (500 deletes per 10 minutes), `1000/1h` or `0` (never delete). Thrown when the
 * text is neither, or out of bounds.
 */
export function parseDeleteLimit(raw: string): DeleteLimit {
  const text = raw.trim();
  if (text === '0') return { count: 0, windowMs: 0 };
  const match = /^(\d+)\s*\/\s*(\S+)$/.exec(text);
  if (match === null) {
    throw new Error(`"${raw}" is not a delete limit (examples: 500/10m, 1000/1h, 0 for none)`);
  }
  const count = Number(match[1]);
  const windowMs = parseDurationMs(match[2] ?? '');
  if (count < 1 || count > MAX_DELETE_LIMIT_COUNT) {
    throw new Error(
      `"${raw}": the count must be 1 to ${MAX_DELETE_LIMIT_COUNT} (0 alone: never delete)`,
    );
  }
  if (windowMs < MIN_DELETE_WINDOW_MS || windowMs > MAX_DELETE_WINDOW_MS) {
    throw new Error(`"${raw}": the window must be 1s to 30d`);
  }
  return { count, windowMs };
}

/** Writes a limit the way {@link parseDeleteLimit} reads it. */
export function formatDeleteLimit(limit: DeleteLimit): string {
  return limit.count === 0 ? '0' : `${limit.count}/${formatDuration(limit.windowMs)}`;
}

/**
 * Whether workers delete backup objects at all: REPLICATE_DELETES, and a DELETE_LIMIT other
 * than 0.
 */
export function deletesReplicated(worker: {
  readonly replicateDeletes: boolean;
  readonly deleteLimit: DeleteLimit;
}): boolean {
  return worker.replicateDeletes && worker.deleteLimit.count > 0;
}
