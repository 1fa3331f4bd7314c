import { vkSignature } from '@s3relay/core';
import { describe, expect, it } from 'vitest';
import {
  CONFIRMATION_MESSAGE,
  confirmSubscription,
  createConfirmation,
  moscowTimestamp,
  type VkSubscriptionConfirmation,
} from './handshake.js';
import type { WebhookPoster, WebhookResponse } from './webhook-client.js';

const URL = 'http://127.0.0.1:8080/webhook?token=s3cr3t';
const ARN = 'mcs2883541269|bucketA|s3:ObjectCreated:Put';

/** A receiver that answers the confirmation it gets through `answer`. */
const receiver = (
  answer: (confirmation: VkSubscriptionConfirmation) => WebhookResponse | Error,
): WebhookPoster & { bodies: string[] } => {
  const bodies: string[] = [];
  return {
    bodies,
    post(_url, body) {
      bodies.push(body);
      const result = answer(JSON.parse(body) as VkSubscriptionConfirmation);
      return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
    },
  };
};

const signatureOf = (confirmation: VkSubscriptionConfirmation, url = URL) =>
  vkSignature(
    {
      token: confirmation.Token,
      timestamp: confirmation.Timestamp,
      topicArn: confirmation.TopicArn,
    },
    url,
  );

describe('moscowTimestamp', () => {
  it("writes VK's format: seconds, fixed +03:00 offset", () => {
    expect(moscowTimestamp(new Date('2019-12-26T16:29:12.999Z'))).toBe('2019-12-26T19:29:12+03:00');
    expect(moscowTimestamp(new Date('2024-06-30T22:00:00Z'))).toBe('2024-07-01T01:00:00+03:00');
  });
});

describe('createConfirmation', () => {
  it("has exactly the fields of VK's example, SignatureVersion a number", () => {
    const confirmation = createConfirmation(ARN, new Date('2019-12-26T16:29:12Z'));
    expect(Object.keys(confirmation)).toEqual([
      'Timestamp',
      'Type',
      'Message',
      'TopicArn',
      'SignatureVersion',
      'Token',
    ]);
    expect(confirmation).toMatchObject({
      Timestamp: '2019-12-26T19:29:12+03:00',
      Type: 'SubscriptionConfirmation',
      Message: CONFIRMATION_MESSAGE,
      TopicArn: ARN,
      SignatureVersion: 1,
    });
    expect(confirmation.Token).toMatch(/^[A-Za-z0-9]{48}$/);
    expect(createConfirmation(ARN, new Date()).Token).not.toBe(confirmation.Token);
  });
});

describe('confirmSubscription', () => {
  it('succeeds when the answer carries the signature over the registered URL', async () => {
    const poster = receiver((confirmation) => ({
      status: 200,
      body: JSON.stringify({ signature: signatureOf(confirmation) }),
    }));
    await expect(confirmSubscription(poster, URL, ARN, 1000)).resolves.toBeUndefined();
    expect(poster.bodies).toHaveLength(1);
  });

  it.each<[string, (confirmation: VkSubscriptionConfirmation) => WebhookResponse | Error, RegExp]>([
    [
      'a signature over another URL',
      (c) => ({ status: 200, body: JSON.stringify({ signature: signatureOf(c, `${URL}/`) }) }),
      /signature does not match/,
    ],
    [
      'an upper-case signature',
      (c) => ({ status: 200, body: JSON.stringify({ signature: signatureOf(c).toUpperCase() }) }),
      /signature does not match/,
    ],
    ['no signature', () => ({ status: 200, body: '{}' }), /no "signature"/],
    ['a numeric signature', () => ({ status: 200, body: '{"signature":1}' }), /no "signature"/],
    ['an empty body', () => ({ status: 200, body: '' }), /not JSON/],
    [
      'a 500 with the right signature',
      (c) => ({ status: 500, body: JSON.stringify({ signature: signatureOf(c) }) }),
      /HTTP 500/,
    ],
    [
      'a network error',
      () => new Error('connect ECONNREFUSED'),
      /did not answer: connect ECONNREFUSED/,
    ],
  ])('fails on %s', async (_name, answer, reason) => {
    await expect(confirmSubscription(receiver(answer), URL, ARN, 1000)).resolves.toMatch(reason);
  });
});
