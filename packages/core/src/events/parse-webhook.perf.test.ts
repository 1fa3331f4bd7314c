import { describe, expect, it } from 'vitest';
import { parseWebhook } from './parse-webhook.js';

const RECEIVED_AT = new Date('2026-11-29T12:00:00.000Z');
const COUNT = 10_000;

/** `COUNT` AWS records with form-encoded keys (so every key goes through the decoder). */
function records(): object[] {
  return Array.from({ length: COUNT }, (_, i) => ({
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

function timed<T>(fn: () => T): { value: T; ms: number } {
  const start = performance.now();
  const value = fn();
  return { value, ms: performance.now() - start };
}

describe('large bodies', () => {
  it(`parses ${COUNT} records into ${COUNT} tasks in well under a second`, () => {
    const body = Buffer.from(JSON.stringify({ Records: records() }));
    const { value: result, ms } = timed(() =>
      parseWebhook({ source: undefined, headers: {}, body, receivedAt: RECEIVED_AT }),
    );
    expect(result.type).toBe('records');
    if (result.type !== 'records') return;
    expect(result.tasks).toHaveLength(COUNT);
    expect(result.tasks[COUNT - 1]).toMatchObject({
      key: `dir/file ${COUNT - 1}+ж.txt`,
      size: COUNT - 1,
    });
    expect(new Set(result.tasks.map((task) => task.id)).size).toBe(COUNT);
    expect(ms).toBeLessThan(1000);
  });

  it(`does the same inside an SNS Message`, () => {
    const envelope = {
      Type: 'Notification',
      MessageId: 'm',
      TopicArn: 'arn:aws:sns:us-east-1:123456789012:t',
      Message: JSON.stringify({ Records: records() }),
      Timestamp: '2026-11-29T00:00:00.000Z',
      SignatureVersion: '2',
      Signature: 'c2ln',
      SigningCertURL: 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem',
    };
    const body = Buffer.from(JSON.stringify(envelope));
    const { value: result, ms } = timed(() =>
      parseWebhook({ source: 'sns', headers: {}, body, receivedAt: RECEIVED_AT }),
    );
    expect(result.type === 'sns' && result.tasks.length).toBe(COUNT);
    expect(ms).toBeLessThan(1000);
  });

  it('refuses a large body with one bad record at the end, naming it, just as fast', () => {
    const all = records();
    all.push({ eventSource: 'aws:s3', eventVersion: '2.1', eventName: 'ObjectCreated:Put' });
    const body = Buffer.from(JSON.stringify({ Records: all }));
    const { value: result, ms } = timed(() =>
      parseWebhook({ source: 's3', headers: {}, body, receivedAt: RECEIVED_AT }),
    );
    expect(result).toEqual({
      type: 'rejected',
      rejection: {
        code: 'RELAY_WEBHOOK_INVALID_BODY',
        message: `Records[${COUNT}]: s3 is missing or not an object`,
      },
    });
    expect(ms).toBeLessThan(1000);
  });
});
