import { randomInt } from 'node:crypto';
import { vkSignature, type VkHandshake } from '@s3relay/core';
import type { WebhookPoster } from './webhook-client.js';

/** The body VK sends to a webhook URL while `PUT ?notification` runs. */
export interface VkSubscriptionConfirmation {
  readonly Timestamp: string;
  readonly Type: 'SubscriptionConfirmation';
  readonly Message: string;
  /** `<ownerId>|<bucket>|<event>`, not an ARN. */
  readonly TopicArn: string;
  /** A number, unlike AWS SNS's string. */
  readonly SignatureVersion: 1;
  readonly Token: string;
}

/** VK's text, `$topic` included: its documented example shows the placeholder unreplaced. */
export const CONFIRMATION_MESSAGE =
  'You have chosen to subscribe to the topic $topic. To confirm the subscription you need to response with calculated signature';

/** Builds a confirmation with a fresh token, timestamped `now` in Moscow time. */
export function createConfirmation(topicArn: string, now: Date): VkSubscriptionConfirmation {
  return {
    Timestamp: moscowTimestamp(now),
    Type: 'SubscriptionConfirmation',
    Message: CONFIRMATION_MESSAGE,
    TopicArn: topicArn,
    SignatureVersion: 1,
    Token: randomToken(),
  };
}

/** `2019-12-26T19:29:12+03:00`: seconds precision, Moscow's fixed UTC+3 offset, as VK writes it. */
export function moscowTimestamp(date: Date): string {
  const shifted = new Date(date.getTime() + 3 * 60 * 60 * 1000);
  return `${shifted.toISOString().slice(0, 19)}+03:00`;
}

const TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** 48 letters and digits, like the token in VK's example. */
function randomToken(): string {
  let token = '';
  for (let i = 0; i < 48; i += 1) token += TOKEN_ALPHABET[randomInt(TOKEN_ALPHABET.length)];
  return token;
}

/** Why a handshake failed, in words for the S3 error message; undefined when it succeeded. */
export type HandshakeFailure = string | undefined;

/**
 * Sends the SubscriptionConfirmation for one (webhook, event) to `url` and checks the answer:
 * a 2xx whose JSON body is `{"signature": "<hex>"}` equal to {@link vkSignature} over the URL as
 * registered. Never rejects.
 */
export async function confirmSubscription(
  poster: WebhookPoster,
  url: string,
  topicArn: string,
  timeoutMs: number,
): Promise<HandshakeFailure> {
  const confirmation = createConfirmation(topicArn, new Date());
  let answer;
  try {
    answer = await poster.post(url, JSON.stringify(confirmation), timeoutMs);
  } catch (err: unknown) {
    return `the URL did not answer: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (answer.status < 200 || answer.status > 299) return `the URL answered HTTP ${answer.status}`;
  let signature: unknown;
  try {
    signature = (JSON.parse(answer.body) as { signature?: unknown } | null)?.signature;
  } catch {
    return 'the answer is not JSON';
  }
  if (typeof signature !== 'string') return 'the answer has no "signature" string';
  const handshake: VkHandshake = {
    token: confirmation.Token,
    timestamp: confirmation.Timestamp,
    topicArn: confirmation.TopicArn,
  };
  if (signature !== vkSignature(handshake, url)) return 'the signature does not match';
  return undefined;
}
