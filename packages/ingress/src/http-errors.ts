import { RelayError, httpStatusOf, type ErrorCode } from '@s3relay/core';
import type { RequestOutcome } from './metrics.js';

/** Seconds a client is asked to wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 5;

/** An error answer: `{ "error": code, "message": message }` with `status`. */
export interface ErrorAnswer {
  readonly status: number;
  readonly code: ErrorCode;
  readonly message: string;
  readonly outcome: RequestOutcome;
}

interface BodyParserError {
  readonly type?: unknown;
  readonly status?: unknown;
  readonly expose?: unknown;
}

/**
 * Maps anything thrown while handling a request to its answer, with the status the error
 * catalogue gives its code (packages/core/src/errors.ts): every retryable failure is a 503 (the
 * sender retries; SNS would drop a 4xx), body-parser's own errors get the code of their kind, and
 * anything unexpected is a 500 without details.
 */
export function answerFor(err: unknown): ErrorAnswer {
  const { code, message } = describe(err);
  const status = httpStatusOf(code);
  if (status >= 500 && status !== 503) {
    return { status, code: 'RELAY_HTTP_INTERNAL', message: 'internal error', outcome: 'error' };
  }
  return { status, code, message, outcome: status === 503 ? 'unavailable' : 'rejected' };
}

function describe(err: unknown): { readonly code: ErrorCode; readonly message: string } {
  if (err instanceof RelayError) return err;
  const parserError = (err ?? {}) as BodyParserError;
  if (parserError.type === 'entity.too.large') {
    return { code: 'RELAY_WEBHOOK_TOO_LARGE', message: 'the body is larger than HTTP_BODY_LIMIT' };
  }
  const status = typeof parserError.status === 'number' ? parserError.status : 500;
  if (status >= 400 && status < 500 && parserError.expose === true) {
    return {
      code: status === 415 ? 'RELAY_HTTP_UNSUPPORTED_ENCODING' : 'RELAY_HTTP_BAD_REQUEST',
      message: err instanceof Error ? err.message : 'bad request',
    };
  }
  return { code: 'RELAY_HTTP_INTERNAL', message: 'internal error' };
}
