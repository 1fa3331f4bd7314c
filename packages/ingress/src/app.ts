import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import express, { type Request, type Response } from 'express';
import { Registry } from 'prom-client';
import {
  PermanentError,
  TransientError,
  PROBE_PATHS,
  WEBHOOK_SOURCES,
  createIpAllowList,
  httpStatusOf,
  parseWebhook,
  redactUrl,
  serveProbe,
  summarizeError,
  vkSignature,
  type Config,
  type ErrorCode,
  type Logger,
  type ProbeSource,
  type SnsMessage,
  type Task,
  type WebhookSource,
} from '@s3relay/core';
import { topologyNames, type OutgoingMessage } from '@s3relay/core/amqp';
import { RETRY_AFTER_SECONDS, answerFor } from './http-errors.js';
import { expressTrustProxy } from './express-trust-proxy.js';
import { createIngressMetrics, type RequestOutcome } from './metrics.js';
import { RecentMessages } from './recent-messages.js';
import { resolveSigningUrl } from './signing-url.js';
import {
  confirmSnsSubscription,
  fetchSnsCertificate,
  type SubscriptionConfirmer,
} from './sns-fetchers.js';
import { createSnsVerifier, type CertificateFetcher } from './sns-signature.js';
import { assertSubscribeUrl } from './sns-urls.js';
import { MAX_TOKEN_CANDIDATES, presentedTokens, tokenMatches } from './webhook-auth.js';

/** The publishing port of the ingress; the core `Publisher` is the production adapter. */
export interface IngressPublisher {
  /**
   * Resolves once the broker confirmed every message. Rejects with a TransientError otherwise,
   * at once when it cannot publish now (disconnected, blocked, overloaded): the reason's code
   * (`RELAY_AMQP_BLOCKED`, …) is what the 503 carries.
   */
  publish(messages: readonly OutgoingMessage[]): Promise<void>;
  /** True when a publish now would be attempted (connected, not blocked). */
  readonly isReady: boolean;
}

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

/** MessageIds remembered for SNS deduplication, at most. */
const MAX_REMEMBERED_MESSAGE_IDS = 100_000;

/** What a handled webhook request answers, counts and logs. */
interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly outcome: RequestOutcome;
  readonly source: WebhookSource | undefined;
  readonly records: number;
  readonly meta?: Record<string, unknown>;
}

/**
 * Builds the ingress's Express app (it does not listen). Webhooks are answered 2xx only after the
 * broker confirmed every record of the request; anything that keeps a record from being confirmed
 * is a fast 503 with Retry-After, and a request that is wrong in itself is a 4xx JSON error that
 * published nothing.
 */
export function createApp(deps: IngressDeps): express.Express {
  const { config, logger, publisher } = deps;
  const http = config.http;
  const now = deps.now ?? (() => new Date());
  const isClosing = deps.isClosing ?? (() => false);
  const registry = deps.registry ?? new Registry();
  const metrics = createIngressMetrics(registry, () => publisher.isReady);
  const tasksQueue = topologyNames({
    prefix: config.amqp.prefix,
    retryDelaysMs: config.worker.retryDelaysMs,
  }).tasks;
  const isAllowedIp = createIpAllowList(http.allowedIps);
  const sourceBuckets = new Set(config.source.buckets);
  const snsTopics = new Set(http.snsTopicArns);
  const verifier = createSnsVerifier({
    fetchCertificate: deps.fetchCertificate ?? fetchSnsCertificate,
    now,
  });
  const confirmSubscription = deps.confirmSubscription ?? confirmSnsSubscription;
  const recentSnsMessages = new RecentMessages({
    ttlMs: http.snsMaxAgeMs,
    maxEntries: MAX_REMEMBERED_MESSAGE_IDS,
    now,
  });
  const readBody = express.raw({ type: () => true, limit: http.bodyLimitBytes });
  let recordsInFlight = 0;

  async function publishRecords(source: WebhookSource, tasks: readonly Task[]): Promise<Answer> {
    const foreign = [...new Set(tasks.map((task) => task.bucket))].filter(
      (bucket) => sourceBuckets.size > 0 && !sourceBuckets.has(bucket),
    );
    if (foreign.length > 0) {
      throw new PermanentError(
        'RELAY_WEBHOOK_BUCKET_NOT_ALLOWED',
        `bucket(s) not in SOURCE_BUCKETS: ${foreign.slice(0, 5).join(', ')}`,
      );
    }
    const accepted = { status: 200, outcome: 'accepted', source, records: tasks.length } as const;
    if (tasks.length === 0) return { ...accepted, body: { accepted: 0 } };
    // No wait makes room for it: a 503 would have the sender retry it forever.
    if (tasks.length > http.maxInFlight) {
      throw new PermanentError(
        'RELAY_WEBHOOK_TOO_MANY_RECORDS',
        `the request has ${tasks.length} records, more than HTTP_MAX_IN_FLIGHT (${http.maxInFlight}) publishes at once; it can never be accepted`,
      );
    }
    if (recordsInFlight + tasks.length > http.maxInFlight) {
      throw new TransientError(
        'RELAY_AMQP_OVERLOADED',
        `${recordsInFlight} records are being published already (HTTP_MAX_IN_FLIGHT ${http.maxInFlight})`,
      );
    }
    const messages = tasks.map(
      (task): OutgoingMessage => ({
        queue: tasksQueue,
        body: Buffer.from(JSON.stringify(task)),
        messageId: task.id,
        headers: { 'x-s3relay-attempt': 0 },
      }),
    );
    recordsInFlight += tasks.length;
    const started = performance.now();
    try {
      await publisher.publish(messages);
      metrics.publishSeconds.observe({ result: 'confirmed' }, seconds(started));
    } catch (err) {
      metrics.publishSeconds.observe({ result: 'failed' }, seconds(started));
      throw err;
    } finally {
      recordsInFlight -= tasks.length;
    }
    metrics.recordsPublished.inc({ source }, tasks.length);
    return { ...accepted, body: { accepted: tasks.length } };
  }

  function checkFreshness(message: SnsMessage): void {
    const sentAt = Date.parse(message.Timestamp);
    if (Number.isNaN(sentAt)) {
      throw new PermanentError('RELAY_SNS_REPLAY', 'the SNS Timestamp is not a date');
    }
    const ageMs = now().getTime() - sentAt;
    // Clock skew works both ways: a Timestamp far in the future is as suspicious as an old one.
    if (Math.abs(ageMs) > http.snsMaxAgeMs) {
      throw new PermanentError(
        'RELAY_SNS_REPLAY',
        `the SNS message was sent at ${message.Timestamp}, outside the SNS_MAX_AGE window`,
      );
    }
  }

  async function handleSns(message: SnsMessage, tasks: readonly Task[]): Promise<Answer> {
    const meta = { messageId: message.MessageId, topicArn: message.TopicArn, type: message.Type };
    // Cheap checks first: a message refused here costs no certificate fetch. A valid signature
    // proves only that AWS sent it, for a topic of any account: the topic list says whose.
    if (snsTopics.size === 0 && !http.snsAllowAnyTopic) {
      throw new PermanentError(
        'RELAY_SNS_TOPIC_NOT_ALLOWED',
        'SNS_TOPIC_ARNS is empty: SNS messages are refused until it lists the topics to accept (or SNS_ALLOW_ANY_TOPIC=true)',
      );
    }
    if (snsTopics.size > 0 && !snsTopics.has(message.TopicArn)) {
      throw new PermanentError(
        'RELAY_SNS_TOPIC_NOT_ALLOWED',
        'the SNS topic is not in SNS_TOPIC_ARNS',
      );
    }
    checkFreshness(message);
    await verifier.verify(message);
    switch (message.Type) {
      case 'SubscriptionConfirmation': {
        const url = assertSubscribeUrl(message.SubscribeURL ?? '', message.TopicArn).toString();
        try {
          await confirmSubscription(url);
        } catch (err) {
          throw new TransientError(
            'RELAY_SNS_CONFIRM_FAILED',
            'visiting the SubscribeURL failed; SNS will retry the confirmation',
            { cause: err },
          );
        }
        logger.info('sns subscription confirmed', meta);
        return {
          status: 200,
          body: { confirmed: true },
          outcome: 'handshake',
          source: 'sns',
          records: 0,
          meta,
        };
      }
      case 'UnsubscribeConfirmation':
        // Its SubscribeURL would subscribe again; an operator who wants that does it by hand.
        logger.warn('sns unsubscribe confirmation received; SubscribeURL not visited', meta);
        return {
          status: 200,
          body: { accepted: 0 },
          outcome: 'ignored',
          source: 'sns',
          records: 0,
          meta,
        };
      case 'Notification': {
        const result = await recentSnsMessages.publishOnce(message.MessageId, () =>
          publishRecords('sns', tasks),
        );
        if (!result.duplicate) return { ...result.value, meta };
        return {
          status: 200,
          body: { accepted: 0, duplicate: true },
          outcome: 'duplicate',
          source: 'sns',
          records: 0,
          meta,
        };
      }
    }
  }

  async function handleWebhook(
    req: Request,
    res: Response,
    receivedAt: Date,
    params: { source?: string; token?: string },
  ): Promise<Answer> {
    if (isClosing()) {
      throw new TransientError('RELAY_SHUTDOWN', 'the ingress is shutting down');
    }
    const routeSource = params.source;
    if (routeSource !== undefined && !isWebhookSource(routeSource)) {
      throw new PermanentError(
        'RELAY_HTTP_NOT_FOUND',
        `unknown source "${routeSource}" (one of ${WEBHOOK_SOURCES.join(', ')})`,
      );
    }
    // Credentials before the body is read (STYLE 2.11): a refused caller costs no parsing.
    const clientIp = req.ip ?? req.socket.remoteAddress ?? '';
    if (!isAllowedIp(clientIp)) {
      throw new PermanentError(
        'RELAY_WEBHOOK_FORBIDDEN',
        'the client address is not in ALLOWED_IPS',
      );
    }
    if (http.webhookToken !== undefined) {
      const tokens = presentedTokens({
        authorization: req.headers.authorization,
        pathToken: params.token,
        pathAndQuery: req.originalUrl,
      });
      if (tokens.length > MAX_TOKEN_CANDIDATES) {
        throw new PermanentError(
          'RELAY_WEBHOOK_TOO_MANY_TOKENS',
          `the request carries ${tokens.length} token candidates; at most ${MAX_TOKEN_CANDIDATES} are compared`,
        );
      }
      if (!tokenMatches(http.webhookToken, tokens)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="s3relay"');
        throw new PermanentError(
          'RELAY_WEBHOOK_UNAUTHORIZED',
          'WEBHOOK_TOKEN is required (Authorization: Bearer, a /webhook/<source>/<token> path or ?token=)',
        );
      }
    }
    const body = await new Promise<Buffer>((resolve, reject) => {
      readBody(req, res, (err?: unknown) => {
        // body-parser fails only with http-errors instances (Error with `type` and `status`).
        if (err instanceof Error) reject(err);
        else resolve(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
      });
    });
    const parsed = parseWebhook({
      source: routeSource,
      headers: req.headers,
      body,
      receivedAt,
    });
    switch (parsed.type) {
      case 'rejected':
        throw new PermanentError(parsed.rejection.code, parsed.rejection.message);
      case 'vk-handshake': {
        const signing = resolveSigningUrl(http.publicUrls, {
          protocol: req.protocol,
          host: req.host,
          pathAndQuery: req.originalUrl,
        });
        // The URL is logged so that a registration VK refuses can be diagnosed: it must be the
        // registered <Url> byte for byte (the token aside, which is never logged).
        const meta = {
          signedUrl: redactUrl(signing.url, [http.webhookToken]),
          signedUrlFrom: signing.from,
          topicArn: parsed.handshake.topicArn,
        };
        logger.info('vk handshake signed', meta);
        return {
          status: 200,
          body: { signature: vkSignature(parsed.handshake, signing.url) },
          outcome: 'handshake',
          source: 'mcs',
          records: 0,
          meta,
        };
      }
      case 'sns':
        return handleSns(parsed.message, parsed.tasks);
      case 'records': {
        const answer = await publishRecords(parsed.source, parsed.tasks);
        return parsed.warnings.length > 0
          ? { ...answer, meta: { warnings: parsed.warnings.slice(0, 10) } }
          : answer;
      }
    }
  }

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Never Express's `true`, which takes the leftmost X-Forwarded-For entry: the client's own words.
  app.set('trust proxy', expressTrustProxy(http.trustProxy));

  app.use((_req, res, next) => {
    if (isClosing()) res.setHeader('Connection', 'close');
    next();
  });

  // MinIO probes its webhook target with HEAD (with its usual Authorization); any answer counts.
  app.head(WEBHOOK_PATHS, (_req, res) => {
    res.status(200).end();
  });

  app.post(WEBHOOK_PATHS, async (req: Request<{ source?: string; token?: string }>, res) => {
    const started = performance.now();
    const receivedAt = now();
    const requestId = requestIdOf(req.headers['x-request-id']);
    res.setHeader('X-Request-Id', requestId);
    let answer: Answer;
    try {
      answer = await handleWebhook(req, res, receivedAt, req.params);
    } catch (err) {
      const failure = answerFor(err);
      if (failure.status === 503) res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
      answer = {
        status: failure.status,
        body: { error: failure.code, message: failure.message },
        outcome: failure.outcome,
        source: isWebhookSource(req.params.source) ? req.params.source : undefined,
        records: 0,
        // A 503 is expected while the broker is away; its stack would repeat on every webhook.
        meta:
          failure.outcome === 'rejected'
            ? undefined
            : { error: failure.outcome === 'unavailable' ? summarizeError(err) : err },
      };
    }
    // Shutdown may have begun while this request was handled: let the client reconnect elsewhere.
    if (isClosing()) res.setHeader('Connection', 'close');
    res.status(answer.status).json(answer.body);
    metrics.requests.inc({ source: answer.source ?? 'unknown', outcome: answer.outcome });
    const line = {
      requestId,
      source: answer.source ?? null,
      outcome: answer.outcome,
      status: answer.status,
      records: answer.records,
      durationMs: Math.round(performance.now() - started),
      ...(answer.status >= 400 ? { code: answer.body.error } : {}),
      ...answer.meta,
    };
    if (answer.outcome === 'error') logger.error('webhook', line);
    else if (answer.status >= 400) logger.warn('webhook', line);
    else logger.info('webhook', line);
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

function isWebhookSource(value: string | undefined): value is WebhookSource {
  return (WEBHOOK_SOURCES as readonly (string | undefined)[]).includes(value);
}

/** The caller's X-Request-Id when it is a sane token, else a new one. */
function requestIdOf(header: string | string[] | undefined): string {
  return typeof header === 'string' && /^[\w.:-]{1,128}$/.test(header) ? header : randomUUID();
}

function seconds(startedMs: number): number {
  return (performance.now() - startedMs) / 1000;
}
