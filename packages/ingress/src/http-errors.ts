import { ErrorCodes, PermanentError, RelayError, TransientError } from '@s3relay/core';
import type { RequestOutcome } from './metrics.js';

/** Seconds a client is asked to wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 5;

/** An error answer: `{ "error": code, "message": message }` with `status`. */
export interface ErrorAnswer {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly outcome: RequestOutcome;
}

/** The status of each code the ingress refuses a request with. */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  [ErrorCodes.httpBadRequest]: 400,
  [ErrorCodes.httpNotFound]: 404,
  [ErrorCodes.httpMethodNotAllowed]: 405,
  [ErrorCodes.webhookUnauthorized]: 401,
  [ErrorCodes.webhookForbidden]: 403,
  [ErrorCodes.webhookBucketNotAllowed]: 403,
  [ErrorCodes.webhookTooLarge]: 413,
  // SNS drops a message answered 4xx without retrying: right for a forged, stale or foreign one.
  [ErrorCodes.snsCertUrlInvalid]: 403,
  [ErrorCodes.snsCertInvalid]: 403,
  [ErrorCodes.snsSignatureInvalid]: 403,
  [ErrorCodes.snsTopicNotAllowed]: 403,
  [ErrorCodes.snsReplay]: 403,
  [ErrorCodes.snsSubscribeUrlInvalid]: 403,
};

/** The code of a request whose `/webhook/<source>` names no source (the parser's code). */
export const UNKNOWN_SOURCE = 'RELAY_WEBHOOK_UNKNOWN_SOURCE';

/** Thrown when a request is refused with a 4xx; `status` is the answer. */
export class RequestRefused extends PermanentError {
  override readonly name: string = 'RequestRefused';
  readonly status: number;

  constructor(status: number, code: string, message: string) {
    super(code, message);
    this.status = status;
  }
}

/** Creates the refusal of `code`, with the status of the catalogue above. */
export function refuse(code: string, message: string): RequestRefused {
  return new RequestRefused(STATUS_BY_CODE[code] ?? 400, code, message);
}

interface BodyParserError {
  readonly type?: unknown;
  readonly status?: unknown;
  readonly expose?: unknown;
}

/**
 * Maps anything thrown while handling a request to its answer. Every transient failure is a 503
 * (the sender retries; SNS would drop a 4xx), body-parser's errors keep their 4xx, and anything
 * unexpected is a 500 without details.
 */
export function answerFor(err: unknown): ErrorAnswer {
  if (err instanceof RequestRefused) {
    return { status: err.status, code: err.code, message: err.message, outcome: 'rejected' };
  }
  if (err instanceof TransientError) {
    return { status: 503, code: err.code, message: err.message, outcome: 'unavailable' };
  }
  if (err instanceof RelayError && !err.retryable) {
    const status = STATUS_BY_CODE[err.code];
    if (status !== undefined) {
      return { status, code: err.code, message: err.message, outcome: 'rejected' };
    }
  }
  const parserError = (err ?? {}) as BodyParserError;
  const status = typeof parserError.status === 'number' ? parserError.status : 500;
  if (parserError.type === 'entity.too.large') {
    return {
      status: 413,
      code: ErrorCodes.webhookTooLarge,
      message: 'the body is larger than HTTP_BODY_LIMIT',
      outcome: 'rejected',
    };
  }
  if (status >= 400 && status < 500 && parserError.expose === true) {
    return {
      status,
      code: status === 415 ? 'RELAY_WEBHOOK_UNSUPPORTED' : ErrorCodes.httpBadRequest,
      message: err instanceof Error ? err.message : 'bad request',
      outcome: 'rejected',
    };
  }
  return {
    status: 500,
    code: ErrorCodes.httpInternal,
    message: 'internal error',
    outcome: 'error',
  };
}
