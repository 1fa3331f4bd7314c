// Large bodies parse completely and correctly. How fast is measured by `npm run bench` (the
// ingress benchmark), not here: a duration asserted in a test fails on a busy machine.
import { describe, expect, it } from 'vitest';
import { parseWebhook } from './parse-webhook.js';

const RECEIVED_AT = new Date('2026-11-29T12:00:00.000Z');
const COUNT = 10_000;

/** `count` AWS records with form-encoded keys (so every key goes through the decoder). */
function records(count = COUNT): object[] {
  return Array.from({ length: count }, (_, i) => ({
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'us-east-1',
    eventTime: '2026-11-29T00:00:00.000Z',
    eventName: 'ObjectCreated:Put',
    s3: {
      s3SchemaVersion: '1.0',
      bucket: { name: 'bucket', arn: 'arn:aws:s3:::bucket' },
      object: {
        key: `dir/file+${i}%2B%D0%B6.txt`,
        size: i,
        eTag: `"${i.toString(16).padStart(32, '0')}"`,
        sequencer: i.toString(16).toUpperCase().padStart(18, '0'),
      },
    },
  }));
}

describe('large bodies', () => {
  const awsBody = (count: number) => Buffer.from(JSON.stringify({ Records: records(count) }));
  const snsBody = (count: number) =>
    Buffer.from(
      JSON.stringify({
        Type: 'Notification',
        MessageId: 'm',
        TopicArn: 'arn:aws:sns:us-east-1:123456789012:t',
        Message: JSON.stringify({ Records: records(count) }),
        Timestamp: '2026-11-29T00:00:00.000Z',
        SignatureVersion: '2',
        Signature: 'c2ln',
        SigningCertURL: 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem',
      }),
    );
  /** `count` good records, then one without `s3`. */
  const badAtEndBody = (count: number) => {
    const all = records(count);
    all.push({ eventSource: 'aws:s3', eventVersion: '2.1', eventName: 'ObjectCreated:Put' });
    return Buffer.from(JSON.stringify({ Records: all }));
  };
  const parse = (source: 's3' | 'sns' | undefined) => (body: Buffer) =>
    parseWebhook({ source, headers: {}, body, receivedAt: RECEIVED_AT });

  it(`parses ${COUNT} records into ${COUNT} tasks`, () => {
    const result = parse(undefined)(awsBody(COUNT));
    expect(result.type).toBe('records');
    if (result.type !== 'records') return;
    expect(result.tasks).toHaveLength(COUNT);
    expect(result.tasks[COUNT - 1]).toMatchObject({
      key: `dir/file ${COUNT - 1}+ж.txt`,
      size: COUNT - 1,
    });
    expect(new Set(result.tasks.map((task) => task.id)).size).toBe(COUNT);
  });

  it(`does the same inside an SNS Message`, () => {
    const result = parse('sns')(snsBody(COUNT));
    expect(result.type === 'sns' && result.tasks.length).toBe(COUNT);
  });

  it('refuses a large body with one bad record at the end, naming it', () => {
    expect(parse('s3')(badAtEndBody(COUNT))).toEqual({
      type: 'rejected',
      rejection: {
        code: 'RELAY_WEBHOOK_INVALID_BODY',
        message: `Records[${COUNT}]: s3 is missing or not an object`,
      },
    });
  });
});
