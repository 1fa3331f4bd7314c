import type { WebhookSource } from '@s3relay/core';
import type { RequestOutcome } from '../metrics.js';

/** What the HTTP layer sends for a webhook: a JSON body with a status and headers. */
export interface WebhookAnswer {
  readonly status: number;
  /** `X-Request-Id` always; `Retry-After` on a 503, `WWW-Authenticate` on a 401. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Readonly<Record<string, unknown>>;
}

/** A request handled by a step of the pipeline: its answer, and what is counted and logged. */
export interface HandledWebhook {
  readonly status: number;
  readonly body: Readonly<Record<string, unknown>>;
  readonly outcome: RequestOutcome;
  readonly source: WebhookSource | undefined;
  readonly records: number;
  /** Added to the request's log line. */
  readonly meta?: Readonly<Record<string, unknown>>;
}
