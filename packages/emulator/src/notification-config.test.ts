import { describe, expect, it } from 'vitest';
import {
  parseNotificationConfiguration,
  serializeNotificationConfiguration,
  type WebhookConfiguration,
} from './notification-config.js';

const ids = () => {
  let next = 0;
  return () => `generated-${++next}`;
};

const parse = (xml: string) => parseNotificationConfiguration(xml, ids());

describe('parseNotificationConfiguration', () => {
  it("parses VK's documented example", () => {
    const xml = `<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
      <SimpleTopicConfiguration>
        <Id>1</Id>
        <Event>s3:ObjectCreated:Put</Event>
        <Url>http://test.com</Url>
        <Filter><S3Key>
          <FilterRule><Name>Prefix</Name><Value>image/</Value></FilterRule>
          <FilterRule><Name>Suffix</Name><Value>.png</Value></FilterRule>
        </S3Key></Filter>
      </SimpleTopicConfiguration>
    </NotificationConfiguration>`;
    expect(parse(xml)).toEqual({
      ok: true,
      value: [
        {
          id: '1',
          events: ['s3:ObjectCreated:Put'],
          url: 'http://test.com',
          prefix: 'image/',
          suffix: '.png',
        },
      ],
    });
  });

  it('accepts several configurations and events, generates missing ids, decodes entities', () => {
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?><NotificationConfiguration>' +
      '<SimpleTopicConfiguration><Event>s3:ObjectCreated:*</Event>' +
      '<Event>s3:ObjectRemoved:Delete</Event><Event>s3:ObjectCreated:*</Event>' +
      '<Url>https://hooks.example.com/s3/vk?token=a&amp;b=1</Url></SimpleTopicConfiguration>' +
      '<SimpleTopicConfiguration><Id></Id><Event>s3:ObjectRemoved:*</Event>' +
      '<Url>http://127.0.0.1:8080/webhook</Url>' +
      '<Filter><S3Key><FilterRule><Name>suffix</Name><Value> x&lt;</Value></FilterRule></S3Key></Filter>' +
      '</SimpleTopicConfiguration></NotificationConfiguration>';
    expect(parse(xml)).toEqual({
      ok: true,
      value: [
        {
          id: 'generated-1',
          events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:Delete'],
          url: 'https://hooks.example.com/s3/vk?token=a&b=1',
        },
        {
          id: 'generated-2',
          events: ['s3:ObjectRemoved:*'],
          url: 'http://127.0.0.1:8080/webhook',
          suffix: ' x<',
        },
      ],
    });
  });

  it('accepts an empty configuration (removes every webhook)', () => {
    expect(parse('<NotificationConfiguration/>')).toEqual({ ok: true, value: [] });
    expect(
      parse(
        '<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></NotificationConfiguration>',
      ),
    ).toEqual({ ok: true, value: [] });
  });

  const simple = (inner: string) =>
    `<NotificationConfiguration><SimpleTopicConfiguration>${inner}</SimpleTopicConfiguration></NotificationConfiguration>`;

  it.each([
    ['an empty body', ''],
    ['garbage', 'NotificationConfiguration'],
    ['an unclosed element', '<NotificationConfiguration><SimpleTopicConfiguration>'],
    ['another root', '<Delete/>'],
    [
      'an unknown configuration element',
      '<NotificationConfiguration><Foo/></NotificationConfiguration>',
    ],
    ['a configuration without Url', simple('<Id>1</Id><Event>s3:ObjectCreated:*</Event>')],
    ['a configuration without Event', simple('<Id>1</Id><Url>http://a</Url>')],
    ['two Urls', simple('<Event>s3:ObjectCreated:*</Event><Url>http://a</Url><Url>http://b</Url>')],
    [
      'an unknown field',
      simple('<Event>s3:ObjectCreated:*</Event><Url>http://a</Url><Topic>x</Topic>'),
    ],
    [
      'a filter rule without value',
      simple(
        '<Event>s3:ObjectCreated:*</Event><Url>http://a</Url><Filter><S3Key><FilterRule><Name>Prefix</Name></FilterRule></S3Key></Filter>',
      ),
    ],
  ])('refuses %s with MalformedXML', (_name, xml) => {
    expect(parse(xml)).toMatchObject({ ok: false, error: { status: 400, code: 'MalformedXML' } });
  });

  it.each([
    [
      'an unsupported event',
      simple('<Event>s3:ObjectRestore:*</Event><Url>http://a</Url>'),
      'Event',
    ],
    [
      'an event without the s3: prefix',
      simple('<Event>ObjectCreated:*</Event><Url>http://a</Url>'),
      'Event',
    ],
    ['a relative URL', simple('<Event>s3:ObjectCreated:*</Event><Url>/hook</Url>'), 'Url'],
    ['an ftp URL', simple('<Event>s3:ObjectCreated:*</Event><Url>ftp://a/b</Url>'), 'Url'],
    [
      'an unknown filter rule',
      simple(
        '<Event>s3:ObjectCreated:*</Event><Url>http://a</Url><Filter><S3Key><FilterRule><Name>Infix</Name><Value>a</Value></FilterRule></S3Key></Filter>',
      ),
      'FilterRule.Name',
    ],
    [
      'two prefix rules',
      simple(
        '<Event>s3:ObjectCreated:*</Event><Url>http://a</Url><Filter><S3Key><FilterRule><Name>Prefix</Name><Value>a</Value></FilterRule><FilterRule><Name>prefix</Name><Value>b</Value></FilterRule></S3Key></Filter>',
      ),
      'FilterRule.Name',
    ],
    [
      'an AWS TopicConfiguration',
      '<NotificationConfiguration><TopicConfiguration><Topic>arn:aws:sns:x</Topic><Event>s3:ObjectCreated:*</Event></TopicConfiguration></NotificationConfiguration>',
      'TopicConfiguration',
    ],
    [
      'a repeated Id',
      '<NotificationConfiguration>' +
        '<SimpleTopicConfiguration><Id>a</Id><Event>s3:ObjectCreated:*</Event><Url>http://a</Url></SimpleTopicConfiguration>'.repeat(
          2,
        ) +
        '</NotificationConfiguration>',
      'Id',
    ],
  ])('refuses %s with InvalidArgument', (_name, xml, argumentName) => {
    expect(parse(xml)).toMatchObject({
      ok: false,
      error: { status: 400, code: 'InvalidArgument', details: { ArgumentName: argumentName } },
    });
  });
});

describe('serializeNotificationConfiguration', () => {
  it('writes what the parser reads back', () => {
    const configurations: WebhookConfiguration[] = [
      { id: 'a&b', events: ['s3:ObjectCreated:*'], url: 'http://h/x?t=1&u=<2>' },
      {
        id: '2',
        events: ['s3:ObjectRemoved:Delete', 's3:ObjectCreated:Copy'],
        url: 'https://h/',
        prefix: ' "quoted" ',
        suffix: "'.png",
      },
    ];
    const xml = serializeNotificationConfiguration(configurations);
    expect(xml).toContain(
      '<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
    );
    expect(parse(xml)).toEqual({ ok: true, value: configurations });
  });

  it('writes an empty configuration', () => {
    expect(parse(serializeNotificationConfiguration([]))).toEqual({ ok: true, value: [] });
  });
});
