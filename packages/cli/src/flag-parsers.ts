import { InvalidArgumentError } from 'commander';
import { parseDurationMs } from '@s3relay/core';

/** Commander argument parser for counts. */
export function positiveInt(raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError('a positive integer');
  return value;
}

/** Commander argument parser for a limit that may be lifted: a positive integer or `all`. */
export function positiveIntOrAll(raw: string): number | 'all' {
  if (raw === 'all') return 'all';
  try {
    return positiveInt(raw);
  } catch {
    throw new InvalidArgumentError('a positive integer, or all');
  }
}

/** Commander argument parser for TCP ports (0: any free port). */
export function port(raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new InvalidArgumentError('a port number from 0 to 65535');
  }
  return value;
}

/** Commander argument parser for durations such as `24h` or `90m`, in milliseconds. */
export function duration(raw: string): number {
  try {
    return parseDurationMs(raw);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/**
 * Commander argument parser for a point in time: an ISO 8601 time (`2026-11-29T10:00:00Z`,
 * `2026-11-29T11:00:00+01:00`; without a zone it is local time), or a duration meaning that long
 * ago (`2h`, or `2h ago`).
 */
export function pointInTime(raw: string): Date {
  return pointInTimeAt(raw, Date.now());
}

/** {@link pointInTime} with ages counted back from `now` (epoch milliseconds). */
export function pointInTimeAt(raw: string, now: number): Date {
  const age = raw.trim().replace(/\s+ago$/i, '');
  if (/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(age)) return new Date(now - duration(age));
  // Date.parse alone would take "1" for the year 2001.
  const time = /^\d{4}-\d\d-\d\d/.test(raw.trim()) ? Date.parse(raw) : Number.NaN;
  if (Number.isNaN(time)) {
    throw new InvalidArgumentError('an ISO 8601 time (2026-11-29T10:00:00Z) or an age (2h)');
  }
  return new Date(time);
}
