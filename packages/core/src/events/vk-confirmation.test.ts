import { describe, expect, it } from 'vitest';
import { readWebhookFixture } from '../../../../test/fixtures/webhook-fixtures.js';
import { vkSignature } from '../signature.js';
import { WEBHOOK_SOURCES } from '../task.js';
import { parseWebhook } from './parse-webhook.js';
import type { WebhookHeaders, WebhookParseResult } from './types.js';

const RECEIVED_AT = new Date('2026-11-29T12:00:00.000Z');

const VK_1 = {
  type: 'vk-handshake',
  handshake: {
    token: 'RPE5UuG94rGgBH6kHXN9FUPugFxj1hs2aUQc99btJp3E49tA',
    timestamp: '2019-12-26T19:29:12+03:00',
    topicArn: 'mcs2883541269|bucketA|s3:ObjectCreated:Put',
  },
} as const;

// Reference 1.3 and 7.1: VK has sent the confirmation under all of these over the years.
const HEADER_VARIANTS: readonly WebhookHeaders[] = [
  { 'content-type': 'application/json', 'x-amz-sns-message-type': 'SubscriptionConfirmation' },
  { 'content-type': 'application/json', 'x-amz-sns-messages-type': 'SubscriptionConfirmation' },
  { 'content-type': 'application/json', 'x-amz-sns-message-type': 'Notification' },
  {},
];

function parse(
  body: Buffer | string,
  source: (typeof WEBHOOK_SOURCES)[number] | undefined,
  headers: WebhookHeaders,
): WebhookParseResult {
  return parseWebhook({
    source,
    headers,
    body: typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
    receivedAt: RECEIVED_AT,
  });
}

describe('VK Cloud handshake detection', () => {
  const compact = readWebhookFixture('vk-confirmation.json');
  const parsed = JSON.parse(compact.toString('utf8')) as Record<string, unknown>;
  const bodies: ReadonlyArray<readonly [string, Buffer | string]> = [
    ['compact (the doc example)', compact],
    ['pretty-printed', JSON.stringify(parsed, null, 2)],
    [
      'with spaces after the colons and CRLF',
      compact.toString('utf8').replace(/":/g, '" : ').replace(/,"/g, ',\r\n "'),
    ],
    ['with fields reordered', JSON.stringify(Object.fromEntries(Object.entries(parsed).reverse()))],
  ];

  it.each(bodies)('is answered the same whatever the headers and route: %s', (_name, body) => {
    for (const headers of HEADER_VARIANTS) {
      for (const route of [undefined, ...WEBHOOK_SOURCES]) {
        expect(parse(body, route, headers)).toEqual(VK_1);
      }
    }
  });

  it('yields the documented signature for the registered URL (VK-1)', () => {
    const result = parse(compact, 'mcs', {});
    expect(result.type).toBe('vk-handshake');
    if (result.type !== 'vk-handshake') return;
    expect(vkSignature(result.handshake, 'http://test.com')).toBe(
      'ea3fce4bb15c6de4fec365d36bcebbc34ccddf54616d5ca12e1972f82b6d37af',
    );
  });

  it('reads the 2021 doc example (VK-6) byte for byte', () => {
    const body =
      '{"Timestamp":"2021-04-22T16:48:37+03:00","Type":"SubscriptionConfirmation","Message":"You have chosen to subscribe to the topic $topic. To confirm the subscription you need to response with calculated signature","TopicArn":"mcs00000000|test|s3:ObjectCreated:Put","SignatureVersion":1,"Token":"9fbYYWYGANVGeQ3s9VKxrYgynwqu65PwQ6zr7bVvU4WKXf2W"}';
    expect(
      parse(body, undefined, { 'x-amz-sns-message-type': 'SubscriptionConfirmation' }),
    ).toEqual({
      type: 'vk-handshake',
      handshake: {
        token: '9fbYYWYGANVGeQ3s9VKxrYgynwqu65PwQ6zr7bVvU4WKXf2W',
        timestamp: '2021-04-22T16:48:37+03:00',
        topicArn: 'mcs00000000|test|s3:ObjectCreated:Put',
      },
    });
  });

  it('refuses a confirmation it cannot sign, naming the fields', () => {
    const body = JSON.stringify({ ...parsed, Token: '', TopicArn: 7 });
    expect(parse(body, 'mcs', {})).toEqual({
      type: 'rejected',
      rejection: {
        code: 'RELAY_WEBHOOK_INVALID_BODY',
        message: 'VK SubscriptionConfirmation: Token, TopicArn must be non-empty strings',
      },
    });
  });

  it('does not take an event for a confirmation because of a header', () => {
    const result = parse(readWebhookFixture('vk-notification.json'), 'mcs', {
      'x-amz-sns-message-type': 'SubscriptionConfirmation',
    });
    expect(result).toMatchObject({ type: 'records', source: 'mcs' });
  });
});
