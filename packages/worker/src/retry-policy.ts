import { TaskHeaders, type RelayError } from '@s3relay/core';
import type { TopologyNames } from '@s3relay/core/amqp';

/** Longest error message carried in a header; the log has the whole error. */
const MAX_ERROR_HEADER_CHARS = 1000;

/**
 * Headers the broker adds on dead-lettering and redelivery. They are dropped from republished
 * copies: the worker never trusts them (a publisher can forge `x-death` on RabbitMQ 3.x), and
 * carrying them from queue to queue would only confuse whoever reads the DLQ.
 */
const BROKER_HEADERS = /^(x-death|x-first-death-.*|x-last-death-.*|x-delivery-count)$/;

export type Headers = Readonly<Record<string, unknown>>;

/** The attempt a delivery is, from `x-s3relay-attempt`; 1 when absent or unreadable. */
export function attemptOf(headers: Headers | undefined): number {
  const raw = headers?.[TaskHeaders.attempt];
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : NaN;
  return Number.isSafeInteger(value) && value >= 1 ? value : 1;
}

/** Where a failed delivery goes next, and the headers its copy carries. */
export type FailureDecision =
  | {
      readonly action: 'retry';
      readonly queue: string;
      readonly delayMs: number;
      readonly headers: Record<string, unknown>;
    }
  | {
      readonly action: 'dead-letter';
      readonly queue: string;
      readonly headers: Record<string, unknown>;
    };

export interface FailureInput {
  readonly error: RelayError;
  /** The attempt that failed (1-based). */
  readonly attempt: number;
  /** The headers of the delivery that failed. */
  readonly headers: Headers | undefined;
  readonly names: TopologyNames;
  readonly retryDelaysMs: readonly number[];
  readonly maxAttempts: number;
  readonly now: Date;
}

/**
 * Decides what happens to a failed delivery: a permanent error, or the last allowed attempt,
 * goes to the DLQ with the reason; anything else goes to the delay tier of its attempt (the last
 * tier repeats) with the attempt count raised. `x-s3relay-first-failed-at` survives every hop.
 */
export function decideFailure(input: FailureInput): FailureDecision {
  const { error, attempt, now } = input;
  const kept = Object.fromEntries(
    Object.entries(input.headers ?? {}).filter(([name]) => !BROKER_HEADERS.test(name)),
  );
  const firstFailedAt = kept[TaskHeaders.firstFailedAt];
  const failure = {
    ...kept,
    [TaskHeaders.errorCode]: error.code,
    [TaskHeaders.error]: truncate(error.message),
    [TaskHeaders.firstFailedAt]:
      typeof firstFailedAt === 'string' ? firstFailedAt : now.toISOString(),
    [TaskHeaders.lastFailedAt]: now.toISOString(),
  };
  if (!error.retryable || attempt >= input.maxAttempts) {
    return {
      action: 'dead-letter',
      queue: input.names.dlq,
      headers: { ...failure, [TaskHeaders.attempt]: attempt, [TaskHeaders.attempts]: attempt },
    };
  }
  const delays = input.retryDelaysMs;
  const delayMs = delays[Math.min(attempt, delays.length) - 1] ?? 0;
  const tier = input.names.retryTiers.find((candidate) => candidate.delayMs === delayMs);
  if (tier === undefined) throw new Error(`no retry queue for a delay of ${delayMs} ms`);
  return {
    action: 'retry',
    queue: tier.queue,
    delayMs,
    headers: { ...failure, [TaskHeaders.attempt]: attempt + 1 },
  };
}

function truncate(text: string): string {
  return text.length <= MAX_ERROR_HEADER_CHARS
    ? text
    : `${text.slice(0, MAX_ERROR_HEADER_CHARS - 1)}…`;
}
