import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, nestsDeeperThan } from './json-depth.js';
import { parseWebhook } from './parse-webhook.js';

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('nestsDeeperThan', () => {
  it('counts arrays and objects, and only past the limit', () => {
    expect(nestsDeeperThan(nested(3), 3)).toBe(false);
    expect(nestsDeeperThan(nested(4), 3)).toBe(true);
    expect(nestsDeeperThan('{"a":{"b":[{"c":1}]}}', 4)).toBe(false);
    expect(nestsDeeperThan('{"a":{"b":[{"c":1}]}}', 3)).toBe(true);
    // Siblings do not add up.
    expect(nestsDeeperThan('[[1],[2],[3],[4]]', 2)).toBe(false);
  });

  it('skips brackets inside strings, escaped quotes and backslashes included', () => {
    expect(nestsDeeperThan('["[[[[[[", "{{{{"]', 1)).toBe(false);
    expect(nestsDeeperThan('["a\\"[[[[", "b"]', 1)).toBe(false);
    // An escaped backslash ends before the quote, which then closes the string.
    expect(nestsDeeperThan('["a\\\\", [[]]]', 2)).toBe(true);
    expect(nestsDeeperThan('["unterminated [[[[', 1)).toBe(false);
  });

  it('answers for 8 MB of [ in milliseconds, where JSON.parse takes about a second', () => {
    const attack = '['.repeat(8 * 1024 * 1024);
    const started = performance.now();
    expect(nestsDeeperThan(attack, MAX_JSON_DEPTH)).toBe(true);
    expect(performance.now() - started).toBeLessThan(100);
  });
});

describe('parseWebhook on deep nesting', () => {
  const receivedAt = new Date('2026-01-01T00:00:00Z');

  it('refuses the body before parsing it', () => {
    const result = parseWebhook({
      source: undefined,
      headers: {},
      body: Buffer.from(`{"Records":${nested(MAX_JSON_DEPTH)}}`),
      receivedAt,
    });
    expect(result).toMatchObject({
      type: 'rejected',
      rejection: { code: 'RELAY_WEBHOOK_TOO_DEEP' },
    });
  });

  it('reads a deep SNS Message as no S3 event', () => {
    const envelope = {
      Type: 'Notification',
      MessageId: 'm',
      TopicArn: 'arn:aws:sns:us-east-1:123456789012:t',
      Message: nested(MAX_JSON_DEPTH + 1),
      Timestamp: '2026-01-01T00:00:00.000Z',
      SignatureVersion: '1',
      Signature: 'x',
      SigningCertURL: 'https://sns.us-east-1.amazonaws.com/c.pem',
    };
    const result = parseWebhook({
      source: 'sns',
      headers: {},
      body: Buffer.from(JSON.stringify(envelope)),
      receivedAt,
    });
    expect(result).toMatchObject({ type: 'sns', tasks: [] });
    expect(result.type === 'sns' && result.warnings.join()).toMatch(/deeper than 64/);
  });
});
