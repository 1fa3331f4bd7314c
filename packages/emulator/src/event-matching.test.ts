import { describe, expect, it } from 'vitest';
import { configurationMatches, eventMatches, type ObjectEventName } from './event-matching.js';
import type { EventPattern, WebhookConfiguration } from './notification-config.js';

describe('eventMatches', () => {
  const cases: [EventPattern, ObjectEventName, boolean][] = [
    ['s3:ObjectCreated:*', 'ObjectCreated:Put', true],
    ['s3:ObjectCreated:*', 'ObjectCreated:Post', true],
    ['s3:ObjectCreated:*', 'ObjectCreated:Copy', true],
    ['s3:ObjectCreated:*', 'ObjectCreated:CompleteMultipartUpload', true],
    ['s3:ObjectCreated:*', 'ObjectRemoved:Delete', false],
    ['s3:ObjectCreated:Put', 'ObjectCreated:Put', true],
    ['s3:ObjectCreated:Put', 'ObjectCreated:Copy', false],
    ['s3:ObjectCreated:Put', 'ObjectCreated:Post', false],
    ['s3:ObjectCreated:Copy', 'ObjectCreated:Copy', true],
    ['s3:ObjectCreated:CompleteMultipartUpload', 'ObjectCreated:CompleteMultipartUpload', true],
    ['s3:ObjectCreated:CompleteMultipartUpload', 'ObjectCreated:Put', false],
    ['s3:ObjectRemoved:*', 'ObjectRemoved:Delete', true],
    ['s3:ObjectRemoved:*', 'ObjectCreated:Put', false],
    ['s3:ObjectRemoved:Delete', 'ObjectRemoved:Delete', true],
    ['s3:ObjectRemoved:Delete', 'ObjectCreated:Put', false],
  ];
  it.each(cases)('%s covers %s: %s', (pattern, eventName, expected) => {
    expect(eventMatches(pattern, eventName)).toBe(expected);
  });
});

describe('configurationMatches', () => {
  const base: WebhookConfiguration = {
    id: '1',
    events: ['s3:ObjectCreated:Put', 's3:ObjectRemoved:*'],
    url: 'http://127.0.0.1/hook',
  };

  it('matches any key when there is no filter', () => {
    expect(configurationMatches(base, 'ObjectCreated:Put', 'a b/ж.txt')).toBe(true);
    expect(configurationMatches(base, 'ObjectRemoved:Delete', '')).toBe(true);
    expect(configurationMatches(base, 'ObjectCreated:Copy', 'a')).toBe(false);
  });

  it('applies prefix and suffix to the decoded key, both required', () => {
    const filtered = { ...base, prefix: 'image/', suffix: '.png' };
    expect(configurationMatches(filtered, 'ObjectCreated:Put', 'image/a b.png')).toBe(true);
    expect(configurationMatches(filtered, 'ObjectCreated:Put', 'image/a.jpg')).toBe(false);
    expect(configurationMatches(filtered, 'ObjectCreated:Put', 'images/a.png')).toBe(false);
    expect(configurationMatches(filtered, 'ObjectCreated:Put', 'x/image/a.png')).toBe(false);
    expect(configurationMatches({ ...base, prefix: 'фото ' }, 'ObjectCreated:Put', 'фото 1')).toBe(
      true,
    );
    expect(configurationMatches({ ...base, suffix: '+1' }, 'ObjectCreated:Put', 'a+1')).toBe(true);
  });
});
