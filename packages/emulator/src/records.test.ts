import { afterEach, describe, expect, it, vi } from 'vitest';
import { SequencerClock, createRecord, type ObjectEvent } from './records.js';

/** VK's documented event body (webhook-protocols.md §1.4, vk-notification.json). */
const VK_EXAMPLE = {
  Records: [
    {
      s3: {
        object: {
          eTag: 'aed563ecafb4bcc5654c597a421547b2',
          sequencer: 1577453615,
          key: 'some-file-to-bucket',
          size: 100,
        },
        configurationId: '1',
        bucket: { name: 'bucketA', ownerIdentity: { principalId: 'mcs2883541269' } },
        s3SchemaVersion: '1.0',
      },
      eventVersion: '1.0',
      requestParameters: { sourceIPAddress: '185.6.245.156' },
      userIdentity: { principalId: '2407013e-cbc1-415f-9102-16fb9bd6946b' },
      eventName: 's3:ObjectCreated:Put',
      awsRegion: 'ru-msk',
      eventSource: 'aws:s3',
      responseElements: { 'x-amz-request-id': 'VGJR5rtJ' },
    },
  ],
};

const identity = { ownerId: 'mcs2883541269', userId: '2407013e-cbc1-415f-9102-16fb9bd6946b' };

const put: ObjectEvent = {
  eventName: 'ObjectCreated:Put',
  bucket: 'bucketA',
  key: 'some-file-to-bucket',
  size: 100,
  eTag: 'aed563ecafb4bcc5654c597a421547b2',
  sequencer: 1577453615,
  sourceIp: '185.6.245.156',
  requestId: 'VGJR5rtJ',
};

describe('createRecord', () => {
  it("reproduces VK's documented example, field for field", () => {
    expect(JSON.stringify({ Records: [createRecord(put, '1', identity)] })).toBe(
      JSON.stringify(VK_EXAMPLE),
    );
  });

  it('encodes the key and leaves size and eTag out of deletions', () => {
    const record = createRecord(
      { ...put, eventName: 'ObjectRemoved:Delete', key: 'a b+c/ж.txt' },
      'hook',
      identity,
    );
    expect(record.eventName).toBe('s3:ObjectRemoved:Delete');
    expect(record.s3.configurationId).toBe('hook');
    expect(record.s3.object).toEqual({ sequencer: 1577453615, key: 'a+b%2Bc/%D0%B6.txt' });
  });
});

describe('SequencerClock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('increases strictly per bucket, from the time in milliseconds', () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
    const clock = new SequencerClock();
    expect([clock.next('a'), clock.next('a'), clock.next('b'), clock.next('a')]).toEqual([
      1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_000, 1_700_000_000_002,
    ]);
    vi.setSystemTime(1_700_000_000_500);
    expect(clock.next('a')).toBe(1_700_000_000_500);
    vi.setSystemTime(1_600_000_000_000);
    expect(clock.next('a')).toBe(1_700_000_000_501);
  });
});
