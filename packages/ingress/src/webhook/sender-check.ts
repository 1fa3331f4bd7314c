import { PermanentError } from '@s3relay/core';
import { MAX_TOKEN_CANDIDATES, presentedTokens, tokenMatches } from '../webhook-auth.js';
import type { WebhookRequest } from './webhook-request.js';
import type { WebhookSettings } from './webhook-deps.js';

/**
 * Refuses a sender that ALLOWED_IPS or WEBHOOK_TOKEN keeps out, as a PermanentError
 * (`RELAY_WEBHOOK_FORBIDDEN`, `RELAY_WEBHOOK_TOO_MANY_TOKENS`, `RELAY_WEBHOOK_UNAUTHORIZED`).
 * Needs no body: the pipeline checks it before reading one, so a refused caller costs no reading
 * and no parsing.
 */
export function checkSender(settings: WebhookSettings, request: WebhookRequest): void {
  if (!settings.isAllowedIp(request.clientIp)) {
    throw new PermanentError('RELAY_WEBHOOK_FORBIDDEN', 'the client address is not in ALLOWED_IPS');
  }
  if (settings.webhookToken === undefined) return;
  const tokens = presentedTokens({
    authorization: request.headers.authorization,
    pathToken: request.pathToken,
    pathAndQuery: request.pathAndQuery,
  });
  if (tokens.length > MAX_TOKEN_CANDIDATES) {
    throw new PermanentError(
      'RELAY_WEBHOOK_TOO_MANY_TOKENS',
      `the request carries ${tokens.length} token candidates; at most ${MAX_TOKEN_CANDIDATES} are compared`,
    );
  }
  if (!tokenMatches(settings.webhookToken, tokens)) {
    throw new PermanentError(
      'RELAY_WEBHOOK_UNAUTHORIZED',
      'WEBHOOK_TOKEN is required (Authorization: Bearer, a /webhook/<source>/<token> path or ?token=)',
    );
  }
}
