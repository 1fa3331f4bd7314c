export { parseWebhook } from './parse-webhook.js';
export type {
  SnsMessage,
  WebhookHeaders,
  WebhookInput,
  WebhookParseResult,
  WebhookRejection,
} from './types.js';
