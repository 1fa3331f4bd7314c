import express, { type Request, type Response } from 'express';
import { Registry } from 'prom-client';
import {
  PROBE_PATHS,
  httpStatusOf,
  serveProbe,
  type Config,
  type ErrorCode,
  type Logger,
  type ProbeSource,
} from '@s3relay/core';
import { answerFor } from './http-errors.js';
import { expressTrustProxy } from './express-trust-proxy.js';
import { createIngressMetrics } from './metrics.js';
import type { SubscriptionConfirmer } from './sns-fetchers.js';
import type { CertificateFetcher } from './sns-signature.js';
import { handleWebhook } from './webhook/handle-webhook.js';
import { createWebhookDeps, type IngressPublisher } from './webhook/webhook-deps.js';
import type { WebhookRequest } from './webhook/webhook-request.js';

export interface IngressDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly publisher: IngressPublisher;
  /** What `/healthz` and `/readyz` show: the ingress's state and checks. */
  readonly probe: ProbeSource;
  /** True once shutdown began: new webhooks get 503 and connections are not kept alive. */
  readonly isClosing?: () => boolean;
  /** Fetches SNS signing certificates. @default fetchSnsCertificate (Node's fetch, no redirects) */
  readonly fetchCertificate?: CertificateFetcher;
  /** Visits validated SNS SubscribeURLs. @default confirmSnsSubscription */
  readonly confirmSubscription?: SubscriptionConfirmer;
  /** The clock of `receivedAt`, the SNS replay window and certificate validity. @default wall clock */
  readonly now?: () => Date;
  /** Where the metrics are registered (not the global registry). @default a new Registry */
  readonly registry?: Registry;
}

/** The paths webhooks are posted to. */
const WEBHOOK_PATHS = ['/webhook', '/webhook/:source', '/webhook/:source/:token'];

/**
 * Builds the ingress's Express app (it does not listen): the routes, and for webhooks the HTTP
 * side only — the request's parts, the body read on demand, the answer sent. What a webhook is
 * answered is {@link handleWebhook}'s business (webhook/handle-webhook.ts): 2xx only after the
 * broker confirmed every record of the request, a fast 503 with Retry-After when a record cannot
 * be confirmed, a 4xx JSON error that published nothing when the request is wrong in itself.
 */
export function createApp(deps: IngressDeps): express.Express {
  const { config, logger, publisher } = deps;
  const isClosing = deps.isClosing ?? (() => false);
  const webhook = createWebhookDeps({
    ...deps,
    metrics: createIngressMetrics(deps.registry ?? new Registry(), () => publisher.isReady),
    isClosing,
  });
  const readRawBody = express.raw({ type: () => true, limit: config.http.bodyLimitBytes });

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Never Express's `true`, which takes the leftmost X-Forwarded-For entry: the client's own words.
  app.set('trust proxy', expressTrustProxy(config.http.trustProxy));

  app.use((_req, res, next) => {
    if (isClosing()) res.setHeader('Connection', 'close');
    next();
  });

  // MinIO probes its webhook target with HEAD (with its usual Authorization); any answer counts.
  app.head(WEBHOOK_PATHS, (_req, res) => {
    res.status(200).end();
  });

  app.post(WEBHOOK_PATHS, async (req: Request<{ source?: string; token?: string }>, res) => {
    const request: WebhookRequest = {
      source: req.params.source,
      pathToken: req.params.token,
      pathAndQuery: req.originalUrl,
      // Getters: Express derives these from headers and TRUST_PROXY on every read, and only a
      // VK handshake needs them.
      get protocol() {
        return req.protocol;
      },
      get host() {
        return req.host;
      },
      headers: req.headers,
      clientIp: req.ip ?? req.socket.remoteAddress ?? '',
      readBody: () =>
        new Promise<Buffer>((resolve, reject) => {
          readRawBody(req, res, (err?: unknown) => {
            // body-parser fails only with http-errors instances (Error with `type` and `status`).
            if (err instanceof Error) reject(err);
            else resolve(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
          });
        }),
    };
    const answer = await handleWebhook(webhook, request);
    // Shutdown may have begun while this request was handled: let the client reconnect elsewhere.
    if (isClosing()) res.setHeader('Connection', 'close');
    res.status(answer.status).set(answer.headers).json(answer.body);
  });

  app.all(WEBHOOK_PATHS, (_req, res) => {
    res.setHeader('Allow', 'POST, HEAD');
    sendError(res, 'RELAY_HTTP_METHOD_NOT_ALLOWED', 'webhooks are POSTed');
  });

  // Kept from the original server, whose operators' checks expect it.
  app.get('/ping', (_req, res) => {
    // Byte for byte what the original s3-webhook server answered (`fmt.Fprintf(w, "Pong\n")`).
    res.type('text/plain').send('Pong\n');
  });

  // The same answers as on the metrics port, where probes should go (packages/ingress/README.md).
  app.get([...PROBE_PATHS], (req, res) => {
    serveProbe(req.path, deps.probe, res);
  });

  app.use((_req, res) => {
    sendError(res, 'RELAY_HTTP_NOT_FOUND', 'no such route');
  });

  // Reached only by failures outside the webhook handler (which answers its own errors).
  app.use((err: unknown, _req: Request, res: Response, _next: express.NextFunction) => {
    const failure = answerFor(err);
    if (failure.outcome === 'error') logger.error('request failed', { error: err });
    if (res.headersSent) return;
    sendError(res, failure.code, failure.message);
  });

  return app;
}

function sendError(res: Response, code: ErrorCode, message: string): void {
  res.status(httpStatusOf(code)).json({ error: code, message });
}
