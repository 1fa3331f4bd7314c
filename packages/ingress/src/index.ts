export { createApp, type IngressDeps } from './app.js';
export {
  CONNECTIONS_CHECK_INTERVAL_MS,
  createIngress,
  type Ingress,
  type IngressOptions,
} from './ingress.js';
export {
  createIngressMetrics,
  createRefusedConnectionsCounter,
  type IngressMetrics,
  type RequestOutcome,
} from './metrics.js';
export { RecentMessages, type RecentMessagesOptions } from './recent-messages.js';
export { resolveSigningUrl, type RequestUrl, type SigningUrl } from './signing-url.js';
export {
  SNS_FETCH_TIMEOUT_MS,
  confirmSnsSubscription,
  fetchSnsCertificate,
  type SubscriptionConfirmer,
} from './sns-fetchers.js';
export {
  createSnsVerifier,
  snsStringToSign,
  type CertificateFetcher,
  type SnsVerifier,
  type SnsVerifierOptions,
} from './sns-signature.js';
export { assertSigningCertUrl, assertSubscribeUrl } from './sns-urls.js';
export { handleWebhook } from './webhook/handle-webhook.js';
export type { WebhookAnswer } from './webhook/webhook-answer.js';
export {
  createWebhookDeps,
  type IngressPublisher,
  type WebhookDeps,
  type WebhookDepsOptions,
  type WebhookSettings,
} from './webhook/webhook-deps.js';
export type { WebhookRequest } from './webhook/webhook-request.js';
