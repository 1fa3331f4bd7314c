import { createHmac } from 'node:crypto';

/** The fields of a VK Cloud (MCS) SubscriptionConfirmation that its signature covers. */
export interface VkHandshake {
  readonly token: string;
  readonly timestamp: string;
  readonly topicArn: string;
}

/**
 * The VK Cloud (MCS) webhook handshake signature:
 * `hex(HMAC(HMAC(HMAC(Token, Timestamp), TopicArn), URL))`, HMAC-SHA256 with the key first.
 * `url` must be the exact string registered with VK, byte for byte (a trailing slash or another
 * scheme gives another signature), and the other fields are used exactly as received.
 */
export function vkSignature(handshake: VkHandshake, url: string): string {
  const k1 = createHmac('sha256', handshake.token).update(handshake.timestamp, 'utf8').digest();
  const k2 = createHmac('sha256', k1).update(handshake.topicArn, 'utf8').digest();
  return createHmac('sha256', k2).update(url, 'utf8').digest('hex');
}
