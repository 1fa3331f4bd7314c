import type { VkHandshake } from '../signature.js';
import type { JsonObject } from './json-object.js';

/** The handshake fields, or why the confirmation cannot be answered. */
export type VkConfirmationOutcome =
  | { readonly ok: true; readonly handshake: VkHandshake }
  | { readonly ok: false; readonly reason: string };

const SIGNED_FIELDS = ['Token', 'Timestamp', 'TopicArn'] as const;

/**
 * Reads a VK Cloud (MCS) SubscriptionConfirmation. `Token`, `Timestamp` and `TopicArn` are kept
 * exactly as received: the signature is computed over these strings byte for byte, so the
 * timestamp (with its `+03:00` offset) must never be reparsed or reformatted.
 */
export function parseVkConfirmation(body: JsonObject): VkConfirmationOutcome {
  const { Token: token, Timestamp: timestamp, TopicArn: topicArn } = body;
  if (isNonEmptyString(token) && isNonEmptyString(timestamp) && isNonEmptyString(topicArn)) {
    return { ok: true, handshake: { token, timestamp, topicArn } };
  }
  const wrong = SIGNED_FIELDS.filter((name) => !isNonEmptyString(body[name]));
  return {
    ok: false,
    reason: `VK SubscriptionConfirmation: ${wrong.join(', ')} must be non-empty strings`,
  };
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}
