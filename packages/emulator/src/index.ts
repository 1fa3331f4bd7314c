export {
  startEmulator,
  type Emulator,
  type EmulatorOptions,
  type RegisterWebhookOptions,
} from './emulator.js';
export {
  DEFAULT_DELIVERY_OPTIONS,
  DELIVERY_LOG_LIMIT,
  type DeliveryAttempt,
  type DeliveryOptions,
  type DeliveryStats,
} from './delivery-queue.js';
export { encodeEventKey } from './key-encoding.js';
export { moscowTimestamp, type VkSubscriptionConfirmation } from './handshake.js';
export {
  SUPPORTED_EVENTS,
  parseNotificationConfiguration,
  serializeNotificationConfiguration,
  type EventPattern,
  type WebhookConfiguration,
} from './notification-config.js';
export { VK_REGION, type VkEventRecord } from './records.js';
export { type WebhookClientOptions } from './webhook-client.js';
export {
  listMultipartUploadsXml,
  listUploadsQuery,
  type ListUploadsQuery,
  type OpenUpload,
} from './multipart-uploads.js';
