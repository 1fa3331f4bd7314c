import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  PermanentError,
  TransientError,
  WEBHOOK_SOURCES,
  parseWebhook,
  redactUrl,
  summarizeError,
  vkSignature,
  type WebhookSource,
} from '@s3relay/core';
import { RETRY_AFTER_SECONDS, answerFor } from '../http-errors.js';
import { resolveSigningUrl } from '../signing-url.js';
import { publishRecords } from './publish-records.js';
import { checkSender } from './sender-check.js';
import { handleSnsMessage } from './sns-message.js';
import type { HandledWebhook, WebhookAnswer } from './webhook-answer.js';
import type { WebhookDeps } from './webhook-deps.js';
import type { WebhookRequest } from './webhook-request.js';

/**
 * The webhook pipeline, from a POSTed request to its answer: the sender's credentials, then the
 * body (read only now), what it means (parseWebhook), the handshakes (VK's signature, SNS's
 * verification and subscription), and the records published with confirms. The answer is 2xx
 * only once the broker confirmed every record of the request; anything that keeps a record from
 * being confirmed is a 503 with Retry-After, and a request wrong in itself a 4xx that published
 * nothing. Never rejects: every failure becomes its answer (http-errors.ts). Counts the request
 * and logs one `webhook` line.
 */
export async function handleWebhook(
  deps: WebhookDeps,
  request: WebhookRequest,
): Promise<WebhookAnswer> {
  const started = performance.now();
  const requestId = requestIdOf(request.headers['x-request-id']);
  const headers: Record<string, string> = { 'X-Request-Id': requestId };
  let handled: HandledWebhook;
  try {
    handled = await handle(deps, request);
  } catch (err) {
    const failure = answerFor(err);
    if (failure.status === 503) headers['Retry-After'] = String(RETRY_AFTER_SECONDS);
    // A 401 names the scheme it wants (RFC 9110, 11.6.1).
    if (failure.status === 401) {
      headers['WWW-Authenticate'] = 'Bearer realm="s3relay"';
    }
    handled = {
      status: failure.status,
      body: { error: failure.code, message: failure.message },
      outcome: failure.outcome,
      source: isWebhookSource(request.source) ? request.source : undefined,
      records: 0,
      // A 503 is expected while the broker is away; its stack would repeat on every webhook.
      meta:
        failure.outcome === 'rejected'
          ? undefined
          : { error: failure.outcome === 'unavailable' ? summarizeError(err) : err },
    };
  }
  deps.metrics.requests.inc({ source: handled.source ?? 'unknown', outcome: handled.outcome });
  const line = {
    requestId,
    source: handled.source ?? null,
    outcome: handled.outcome,
    status: handled.status,
    records: handled.records,
    durationMs: Math.round(performance.now() - started),
    ...(handled.status >= 400 ? { code: handled.body.error } : {}),
    ...handled.meta,
  };
  if (handled.outcome === 'error') deps.logger.error('webhook', line);
  else if (handled.status >= 400) deps.logger.warn('webhook', line);
  else deps.logger.info('webhook', line);
  return { status: handled.status, headers, body: handled.body };
}

async function handle(deps: WebhookDeps, request: WebhookRequest): Promise<HandledWebhook> {
  const receivedAt = deps.now();
  if (deps.isClosing()) {
    throw new TransientError('RELAY_SHUTDOWN', 'the ingress is shutting down');
  }
  const routeSource = request.source;
  if (routeSource !== undefined && !isWebhookSource(routeSource)) {
    throw new PermanentError(
      'RELAY_HTTP_NOT_FOUND',
      `unknown source "${routeSource}" (one of ${WEBHOOK_SOURCES.join(', ')})`,
    );
  }
  checkSender(deps.settings, request);
  const parsed = parseWebhook({
    source: routeSource,
    headers: request.headers,
    body: await request.readBody(),
    receivedAt,
  });
  switch (parsed.type) {
    case 'rejected':
      throw new PermanentError(parsed.rejection.code, parsed.rejection.message);
    case 'vk-handshake': {
      const signing = resolveSigningUrl(deps.settings.publicUrls, request);
      // The URL is logged so that a registration VK refuses can be diagnosed: it must be the
      // registered <Url> byte for byte (the token aside, which is never logged).
      const meta = {
        signedUrl: redactUrl(signing.url, [deps.settings.webhookToken]),
        signedUrlFrom: signing.from,
        topicArn: parsed.handshake.topicArn,
      };
      deps.logger.info('vk handshake signed', meta);
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
      return handleSnsMessage(deps, parsed.message, parsed.tasks);
    case 'records': {
      const handled = await publishRecords(deps, parsed.source, parsed.tasks);
      return parsed.warnings.length > 0
        ? { ...handled, meta: { warnings: parsed.warnings.slice(0, 10) } }
        : handled;
    }
  }
}

function isWebhookSource(value: string | undefined): value is WebhookSource {
  return (WEBHOOK_SOURCES as readonly (string | undefined)[]).includes(value);
}

/** The caller's X-Request-Id when it is a sane token, else a new one. */
function requestIdOf(header: string | string[] | undefined): string {
  return typeof header === 'string' && /^[\w.:-]{1,128}$/.test(header) ? header : randomUUID();
}
