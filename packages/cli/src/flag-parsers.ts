import { InvalidArgumentError } from 'commander';
import { parseDurationMs } from '@s3relay/core';

/** Commander argument parser for counts. */
export function positiveInt(raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError('a positive integer');
  return value;
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
 * Commander argument parser for a moment: an ISO 8601 date-time (`2026-12-05T15:30:00Z`,
 * `2026-12-05T16:30:00+01:00`; without a zone it is local time) or a duration before now
 * (`90m ago`, `1d ago`). Returns epoch milliseconds.
 */
export function moment(raw: string, now = Date.now()): number {
  const ago = /^(.+?)\s+ago$/i.exec(raw.trim());
  if (ago !== null) return now - duration(ago[1] ?? '');
  if (!/^\d{4}-\d\d-\d\d/.test(raw.trim())) {
    throw new InvalidArgumentError(
      'an ISO 8601 date-time (2026-12-05T15:30:00Z) or "<duration> ago"',
    );
  }
  const at = Date.parse(raw);
  if (!Number.isFinite(at)) throw new InvalidArgumentError(`not a date-time: ${raw}`);
  return at;
}
