import type { IncomingHttpHeaders } from 'node:http';
import type { RequestUrl } from '../signing-url.js';

/**
 * A webhook POST as the pipeline sees it: what the HTTP layer knows about the request, in plain
 * values, so that {@link handleWebhook} runs without a server (app.ts builds it from Express's
 * request). The URL parts it extends are what a VK handshake is signed over.
 */
export interface WebhookRequest extends RequestUrl {
  /** The `<source>` segment of `/webhook/<source>`, unchecked (an unknown one is a 404). */
  readonly source: string | undefined;
  /** The `<token>` segment of `/webhook/<source>/<token>`. */
  readonly pathToken: string | undefined;
  /** Names lower-cased, as Node delivers them. */
  readonly headers: IncomingHttpHeaders;
  /** The client's address: the socket's, or with TRUST_PROXY what the trusted proxies report. */
  readonly clientIp: string;
  /**
   * Reads the raw body, at most HTTP_BODY_LIMIT bytes. Called at most once, and only after the
   * sender passed the token and address checks, so a refused caller costs no reading. Rejects
   * with body-parser's errors (`type: 'entity.too.large'` → 413, see http-errors.ts).
   */
  readonly readBody: () => Promise<Buffer>;
}
