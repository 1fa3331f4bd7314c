import { describe, expect, it } from 'vitest';
import {
  CEPH_CAPTURES,
  readCephCapture,
  readWebhookFixture,
} from '../../../../test/fixtures/webhook-fixtures.js';
import { httpStatusOf } from '../errors.js';
import { TaskSchema, WEBHOOK_SOURCES, type Task, type WebhookSource } from '../task.js';
import { parseWebhook } from './parse-webhook.js';
import type { WebhookHeaders, WebhookParseResult } from './types.js';

const RECEIVED_AT = new Date('2026-11-29T12:00:00.000Z');

function parse(
  body: Buffer | string | object,
  source?: WebhookSource,
  headers: WebhookHeaders = {},
): WebhookParseResult {
  const bytes = Buffer.isBuffer(body)
    ? body
    : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
  return parseWebhook({ source, headers, body: bytes, receivedAt: RECEIVED_AT });
}

/** The tasks of a records or sns result; fails the test on any other result. */
function tasksOf(result: WebhookParseResult): readonly Task[] {
  if (result.type !== 'records' && result.type !== 'sns') {
    expect.fail(`expected tasks, got ${JSON.stringify(result)}`);
  }
  for (const task of result.tasks) expect(TaskSchema.safeParse(task).success).toBe(true);
  return result.tasks;
}

function warningsOf(result: WebhookParseResult): readonly string[] {
  return result.type === 'records' || result.type === 'sns' ? result.warnings : [];
}

/** Reference 7.3's tuple: (bucket, key, eventName, kind, size, eTag, sequencer, versionId). */
function tuple(task: Task): unknown[] {
  return [
    task.bucket,
    task.key,
    task.eventName,
    task.kind,
    task.size,
    task.eTag,
    task.sequencer,
    task.versionId,
  ];
}

/** The rejection, with the HTTP status the error catalogue gives its code. */
function rejection(result: WebhookParseResult): { code: string; status: number; message: string } {
  if (result.type !== 'rejected')
    expect.fail(`expected a rejection, got ${JSON.stringify(result)}`);
  return { ...result.rejection, status: httpStatusOf(result.rejection.code) };
}

/** An AWS S3 event record as S3 writes it (reference 2.5), with the given event and object. */
function awsRecord(
  eventName: string,
  bucket: string,
  object: Record<string, unknown>,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'us-east-1',
    eventTime: '2018-02-26T00:05:26.722Z',
    eventName,
    userIdentity: { principalId: 'AWS:AIDAJDPLRKLG7UEXAMPLE' },
    requestParameters: { sourceIPAddress: '1.2.3.4' },
    responseElements: {
      'x-amz-request-id': 'C3D13FE58DE4C810',
      'x-amz-id-2': 'FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD',
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'testConfigRule',
      bucket: {
        name: bucket,
        ownerIdentity: { principalId: 'A3NL1KOZZKExample' },
        arn: `arn:aws:s3:::${bucket}`,
      },
      object,
    },
    ...overrides,
  };
}

/** An SNS Notification envelope around `message` (fields from a real one, not re-signed). */
function snsNotification(message: string, overrides: Record<string, unknown> = {}): object {
  return {
    Type: 'Notification',
    MessageId: '22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324',
    TopicArn: 'arn:aws:sns:us-east-1:123456789012:s3-events',
    Subject: 'Amazon S3 Notification',
    Message: message,
    Timestamp: '2018-02-26T00:05:27.000Z',
    SignatureVersion: '1',
    Signature:
      'EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=',
    SigningCertURL:
      'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem',
    UnsubscribeURL:
      'https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:123456789012:s3-events:c9135db0-26c4-47ec-8998-413945fb5a96',
    ...overrides,
  };
}

describe('fixtures (reference 7.3)', () => {
  it('E1: the VK documentation body', () => {
    for (const route of [undefined, 'mcs'] as const) {
      const result = parse(readWebhookFixture('vk-notification.json'), route);
      expect(result).toMatchObject({ type: 'records', source: 'mcs', warnings: [] });
      const [task, ...rest] = tasksOf(result);
      expect(rest).toEqual([]);
      const { id, ...fields } = task ?? expect.fail('no task');
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      expect(fields).toEqual({
        v: 1,
        origin: 'mcs',
        kind: 'created',
        eventName: 'ObjectCreated:Put',
        bucket: 'bucketA',
        key: 'some-file-to-bucket',
        size: 100,
        eTag: 'aed563ecafb4bcc5654c597a421547b2',
        versionId: null,
        sequencer: '1577453615',
        eventTime: null,
        receivedAt: '2026-11-29T12:00:00.000Z',
      });
    }
  });

  it('E9: the MinIO body; the decoded key equals the top-level Key minus "mybucket/"', () => {
    for (const route of [undefined, 'minio'] as const) {
      const result = parse(readWebhookFixture('minio-put.json'), route);
      expect(result).toMatchObject({ type: 'records', source: 'minio', warnings: [] });
      const tasks = tasksOf(result);
      expect(tasks.map(tuple)).toEqual([
        [
          'mybucket',
          'photos/my file+1.jpg',
          'ObjectCreated:Put',
          'created',
          2048,
          'd41d8cd98f00b204e9800998ecf8427e',
          '17CB2F3C9A1B2C3D',
          null,
        ],
      ]);
      expect(tasks[0]).toMatchObject({ origin: 'minio', eventTime: '2024-05-01T10:00:00.123Z' });
    }
  });

  it('E12: the Ceph body keeps its raw key and drops the empty versionId', () => {
    for (const route of [undefined, 'ceph'] as const) {
      const result = parse(readWebhookFixture('ceph-put.json'), route);
      expect(result).toMatchObject({ type: 'records', source: 'ceph', warnings: [] });
      const tasks = tasksOf(result);
      expect(tasks.map(tuple)).toEqual([
        [
          'mybucket1',
          'photos/my file+1.jpg',
          'ObjectCreated:Put',
          'created',
          1024,
          '37b51d194a7513e45b56f6524f2d51f2',
          'F7E6D75DC742D108',
          null,
        ],
      ]);
      expect(tasks[0]).toMatchObject({
        origin: 'ceph',
        eventTime: '2019-11-22T13:47:35.124724Z',
      });
    }
  });

  it('the VK handshake example', () => {
    expect(parse(readWebhookFixture('vk-confirmation.json'))).toEqual({
      type: 'vk-handshake',
      handshake: {
        token: 'RPE5UuG94rGgBH6kHXN9FUPugFxj1hs2aUQc99btJp3E49tA',
        timestamp: '2019-12-26T19:29:12+03:00',
        topicArn: 'mcs2883541269|bucketA|s3:ObjectCreated:Put',
      },
    });
  });

  it('the real SNS notifications: envelopes read, plain-text Message gives no task', () => {
    const v1 = parse(readWebhookFixture('notif-v1.json'), undefined, {
      'content-type': 'text/plain; charset=UTF-8',
      'x-amz-sns-message-type': 'Notification',
    });
    expect(v1).toEqual({
      type: 'sns',
      message: {
        Type: 'Notification',
        MessageId: 'c0e5a280-53c9-5a98-93bb-c0a560b3d192',
        TopicArn: 'arn:aws:sns:us-west-2:131990247566:dongie-standard-topic',
        Message: 'This notification has no subject.',
        Timestamp: '2026-03-06T19:55:38.903Z',
        SignatureVersion: '1',
        Signature:
          'h5/2kLNyPKvMH+ipOA1kueaA1GLFlcKbO/9o6GbH7BtKk/8lM8krPFDrV+Lwuq8yZDXTxeSXHR8pG1w9MkKQ3VlsHhMigy+5ejIsb+ZfpkDDO6dOACbkTg1twy9tLeKCyPfU01OokKTR6jlKJGCgXXDQm5Q1Fs4NfUz22xGqteycG1GIioqq2Hvd1PLsDkcoyUAhciugGFcZKIGjUbBtdhMTPFX1ed8iH+Y/p6o/eD0G2i614oRSXYRJyV2iNpl54LCCiCrAafAJAM5NXAJJq9CWyTjxHFC18FnPqSukW1/6Qa502oujhPJ/pyl+6mMBoF6LjnpbIyR8/Gmm+RY6fg==',
        SigningCertURL:
          'https://sns.us-west-2.amazonaws.com/SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem',
        UnsubscribeURL:
          'https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-west-2:131990247566:dongie-standard-topic:b24e11a2-06bd-4e73-aa29-0ed2de3b41b5',
      },
      tasks: [],
      warnings: ['the SNS Message is not JSON, so not an S3 event; nothing to do'],
    });
    // No Subject in the body, so none in the message: the string to sign must not include it.
    expect(v1.type === 'sns' && 'Subject' in v1.message).toBe(false);

    const v2 = parse(readWebhookFixture('notif-v2.json'), 'sns');
    expect(v2).toMatchObject({
      type: 'sns',
      message: {
        Type: 'Notification',
        MessageId: '9d2c5580-b61d-550c-8583-37a582870907',
        SignatureVersion: '2',
        Message: 'This message uses signature version 2.',
      },
      tasks: [],
    });
  });

  it('the real SNS SubscriptionConfirmation carries its Token and SubscribeURL', () => {
    const result = parse(readWebhookFixture('subconf-v1.json'));
    expect(result).toMatchObject({
      type: 'sns',
      message: {
        Type: 'SubscriptionConfirmation',
        MessageId: 'f3f2fc87-c426-4c2f-9044-b55890c0939c',
        Token:
          '2336412f37fb687f5d51e6e2425929f52e8e353134fe72d55ef8b330217d82da14007cbccefffd35b695feb8f0294d01fd9644f41e1ddfad261519a2c0bac743ff375eeb64530147d2da57f3acc54739da14c8dbd48a9d58ce996eff0d498ea6b4b9f58720d8959b52b99b8de148081720d7da17434e376614a00c992e7823e4',
        SubscribeURL:
          'https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:131990247566:dongie-standard-topic&Token=2336412f37fb687f5d51e6e2425929f52e8e353134fe72d55ef8b330217d82da14007cbccefffd35b695feb8f0294d01fd9644f41e1ddfad261519a2c0bac743ff375eeb64530147d2da57f3acc54739da14c8dbd48a9d58ce996eff0d498ea6b4b9f58720d8959b52b99b8de148081720d7da17434e376614a00c992e7823e4',
        Message:
          'You have chosen to subscribe to the topic arn:aws:sns:us-west-2:131990247566:dongie-standard-topic.\nTo confirm the subscription, visit the SubscribeURL included in this message.',
        SignatureVersion: '1',
      },
      tasks: [],
      warnings: [],
    });
  });

  it('the B2 body is no source this relay reads', () => {
    expect(rejection(parse(readWebhookFixture('b2-upload.body')))).toMatchObject({
      code: 'RELAY_WEBHOOK_UNKNOWN_SOURCE',
      status: 400,
    });
    expect(rejection(parse(readWebhookFixture('b2-upload.body'), 'mcs'))).toMatchObject({
      code: 'RELAY_WEBHOOK_INVALID_BODY',
      status: 400,
    });
  });

  it('a PEM certificate is not JSON', () => {
    expect(rejection(parse(readWebhookFixture('cert.pem'), 'sns'))).toMatchObject({
      code: 'RELAY_WEBHOOK_MALFORMED_JSON',
      status: 400,
    });
  });
});

describe('Ceph captures from a real RGW 16.2.15', () => {
  // (bucket, key, eventName, kind, size, eTag, sequencer, versionId, eventTime), read off the
  // captures by hand.
  const expected: Record<string, unknown[]> = {
    'event-ObjectCreated-CompleteMultipartUpload.json': [
      'notif-bucket',
      'big/multi part é.bin',
      'ObjectCreated:CompleteMultipartUpload',
      'created',
      17825915,
      '83ca68c8fcd390f15c3c32517276e7da-4',
      'E76E0B6B9FE5E60D',
      null,
      '2026-11-29T00:16:39.233229Z',
    ],
    'event-ObjectCreated-Copy.json': [
      'notif-bucket',
      'copy of big.bin',
      'ObjectCreated:Copy',
      'created',
      17825915,
      '83ca68c8fcd390f15c3c32517276e7da-4',
      'E76E0B6B1937150F',
      null,
      '2026-11-29T00:16:39.250755Z',
    ],
    'event-ObjectCreated-Put.json': [
      'notif-bucket',
      'dir/hello wörld ☃+plus&amp=eq.txt',
      'ObjectCreated:Put',
      'created',
      2,
      '6654c734ccab8f440ff0825eb443dc7f',
      'E56E0B6BEFA92E00',
      null,
      '2026-11-29T00:16:36.999884Z',
    ],
    'event-ObjectRemoved-Delete.json': [
      'notif-bucket',
      'dir/hello wörld ☃+plus&amp=eq.txt',
      'ObjectRemoved:Delete',
      'removed',
      14,
      '1ae629bacb3b195734caf633b8230d2d',
      'E56E0B6BDF2CF001',
      null,
      '2026-11-29T00:16:37.032510Z',
    ],
    'event-ObjectRemoved-DeleteMarkerCreated.json': [
      'sync-bucket',
      'ver/obj.txt',
      'ObjectRemoved:DeleteMarkerCreated',
      'removed',
      2,
      '6654c734ccab8f440ff0825eb443dc7f',
      'CF6D0B6B32995B37',
      null,
      '2026-11-29T00:11:59.928743Z',
    ],
  };

  it('has an expectation for every capture', () => {
    expect([...CEPH_CAPTURES]).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected))('%s', (name, values) => {
    const capture = readCephCapture(name);
    for (const route of [undefined, 'ceph'] as const) {
      const result = parse(capture.body, route, capture.headers);
      expect(result).toMatchObject({ type: 'records', source: 'ceph', warnings: [] });
      const tasks = tasksOf(result);
      expect(tasks.map((task) => [...tuple(task), task.eventTime])).toEqual([values]);
      expect(tasks[0]?.origin).toBe('ceph');
    }
  });

  it('the route decides the decoding: a Ceph body posted to /webhook/s3 is form-decoded', () => {
    const result = parse(readCephCapture('event-ObjectCreated-Put.json').body, 's3');
    expect(tasksOf(result).map((task) => [task.origin, task.key])).toEqual([
      ['s3', 'dir/hello wörld ☃ plus&amp=eq.txt'],
    ]);
    expect(warningsOf(result)).toEqual([
      'the route says s3 but the records look like ceph; read as s3',
    ]);
  });
});

describe('constructed bodies (reference 7.3)', () => {
  it('E2: AWS through SNS', () => {
    const message = JSON.stringify({
      Records: [
        awsRecord('ObjectCreated:Put', 'bucket-name', {
          key: '1.2.3.4-1514864593.00',
          size: 336,
          eTag: '9e30708dc09064bb76d8460c08cbabcb',
          sequencer: '005A934FE6C0A58C72',
        }),
      ],
    });
    for (const route of [undefined, 'sns'] as const) {
      const result = parse(snsNotification(message), route, {
        'content-type': 'text/plain; charset=UTF-8',
      });
      expect(result).toMatchObject({
        type: 'sns',
        message: { Subject: 'Amazon S3 Notification', Message: message },
        warnings: [],
      });
      const tasks = tasksOf(result);
      expect(tasks.map(tuple)).toEqual([
        [
          'bucket-name',
          '1.2.3.4-1514864593.00',
          'ObjectCreated:Put',
          'created',
          336,
          '9e30708dc09064bb76d8460c08cbabcb',
          '005A934FE6C0A58C72',
          null,
        ],
      ]);
      expect(tasks[0]).toMatchObject({ origin: 'sns', eventTime: '2018-02-26T00:05:26.722Z' });
    }
  });

  it('E3: a 6 GiB multipart upload keeps its exact size', () => {
    const body = {
      Records: [
        awsRecord('ObjectCreated:CompleteMultipartUpload', 'bucket-name', {
          key: 'big.bin',
          size: 6442450944,
          eTag: '767e7a8379c0f62c39e0ceeea0e13de9-768',
          sequencer: '005A935416CD0A0275',
        }),
      ],
    };
    for (const route of [undefined, 's3'] as const) {
      const result = parse(body, route);
      expect(result).toMatchObject({ type: 'records', source: 's3' });
      expect(tasksOf(result).map(tuple)).toEqual([
        [
          'bucket-name',
          'big.bin',
          'ObjectCreated:CompleteMultipartUpload',
          'created',
          6442450944,
          '767e7a8379c0f62c39e0ceeea0e13de9-768',
          '005A935416CD0A0275',
          null,
        ],
      ]);
    }
  });

  it('E4: a delete has no size and no eTag', () => {
    const body = {
      Records: [
        awsRecord('ObjectRemoved:Delete', 'bucket-name', {
          key: 'gone.txt',
          sequencer: '005A937AB75B924C8A',
        }),
      ],
    };
    expect(tasksOf(parse(body)).map(tuple)).toEqual([
      [
        'bucket-name',
        'gone.txt',
        'ObjectRemoved:Delete',
        'removed',
        null,
        null,
        '005A937AB75B924C8A',
        null,
      ],
    ]);
  });

  it('E5: a copy without eTag', () => {
    const body = {
      Records: [
        awsRecord('ObjectCreated:Copy', 'bucket-name', {
          key: 'copy.txt',
          size: 336,
          sequencer: '005A934FE6C0A58C73',
        }),
      ],
    };
    expect(tasksOf(parse(body, 's3')).map(tuple)).toEqual([
      [
        'bucket-name',
        'copy.txt',
        'ObjectCreated:Copy',
        'created',
        336,
        null,
        '005A934FE6C0A58C73',
        null,
      ],
    ]);
  });

  it('E6: an S3 TestEvent through SNS gives no task and no warning', () => {
    const message = JSON.stringify({
      Service: 'Amazon S3',
      Event: 's3:TestEvent',
      Time: '2018-02-26T00:00:00.000Z',
      Bucket: 'bucket-name',
      RequestId: '5582815E1AEA5ADF',
      HostId: '8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE',
    });
    expect(parse(snsNotification(message))).toMatchObject({ type: 'sns', tasks: [], warnings: [] });
  });

  it('E7: a delete marker keeps its versionId and has no size', () => {
    const body = {
      Records: [
        awsRecord('ObjectRemoved:DeleteMarkerCreated', 'bucket-name', {
          key: 'doc.txt',
          versionId: '096fKKXTRTtl3on89fVO.nfljtsv6qko',
          sequencer: '005A937AB75B924C8B',
        }),
      ],
    };
    // The task contract has no "deleteMarker" kind: a delete marker is a removal.
    expect(tasksOf(parse(body)).map(tuple)).toEqual([
      [
        'bucket-name',
        'doc.txt',
        'ObjectRemoved:DeleteMarkerCreated',
        'removed',
        null,
        null,
        '005A937AB75B924C8B',
        '096fKKXTRTtl3on89fVO.nfljtsv6qko',
      ],
    ]);
  });

  it('E8: a lifecycle expiration (eventVersion 2.3) is a removal', () => {
    const body = {
      Records: [
        awsRecord(
          'LifecycleExpiration:Delete',
          'bucket-name',
          { key: 'old.log', sequencer: '005A937AB75B924C8C' },
          {
            eventVersion: '2.3',
            userIdentity: { principalId: 's3.amazonaws.com' },
            requestParameters: { sourceIPAddress: 's3.amazonaws.com' },
          },
        ),
      ],
    };
    const result = parse(body);
    expect(result).toMatchObject({ type: 'records', source: 's3' });
    expect(tasksOf(result).map(tuple)).toEqual([
      [
        'bucket-name',
        'old.log',
        'LifecycleExpiration:Delete',
        'removed',
        null,
        null,
        '005A937AB75B924C8C',
        null,
      ],
    ]);
  });

  it('E10 and E11: MinIO omits size and eTag on deletes and size on empty objects', () => {
    const minio = (eventName: string, key: string, object: Record<string, unknown>): object => ({
      EventName: eventName,
      Key: `mybucket/${key}`,
      Records: [
        {
          eventVersion: '2.0',
          eventSource: 'minio:s3',
          eventTime: '2024-05-01T10:00:00.123Z',
          eventName,
          s3: { bucket: { name: 'mybucket' }, object: { key, ...object } },
        },
      ],
    });
    const deleted = parse(
      minio('s3:ObjectRemoved:Delete', 'a.txt', { sequencer: '17CB2F3C9A1B2C3E' }),
    );
    expect(tasksOf(deleted).map(tuple)).toEqual([
      [
        'mybucket',
        'a.txt',
        'ObjectRemoved:Delete',
        'removed',
        null,
        null,
        '17CB2F3C9A1B2C3E',
        null,
      ],
    ]);
    // A missing size stays unknown (null) rather than guessed as 0: the worker HEADs anyway.
    const empty = parse(
      minio('s3:ObjectCreated:Put', 'empty.txt', {
        eTag: 'd41d8cd98f00b204e9800998ecf8427e',
        sequencer: '17CB2F3C9A1B2C3F',
      }),
    );
    expect(tasksOf(empty).map((task) => [task.kind, task.size])).toEqual([['created', null]]);
  });

  it('E13: Ceph with a string size', () => {
    const body = JSON.parse(readWebhookFixture('ceph-put.json').toString('utf8')) as {
      Records: [{ s3: { object: { size: unknown } } }];
    };
    body.Records[0].s3.object.size = '1024';
    expect(tasksOf(parse(body)).map((task) => task.size)).toEqual([1024]);
  });
});

describe('envelope edge cases (reference 7.6)', () => {
  it('{"Records":[]} gives no task on every route that takes bare records', () => {
    for (const route of [undefined, 'mcs', 'minio', 'ceph', 's3'] as const) {
      expect(parse('{"Records":[]}', route)).toEqual({
        type: 'records',
        source: route ?? 's3',
        tasks: [],
        warnings: [],
      });
    }
  });

  it('{} is refused: an unknown source without a route, an invalid body with one', () => {
    expect(rejection(parse('{}'))).toMatchObject({
      code: 'RELAY_WEBHOOK_UNKNOWN_SOURCE',
      status: 400,
    });
    for (const route of ['mcs', 'minio', 'ceph', 's3', 'sns'] as const) {
      expect(rejection(parse('{}', route))).toMatchObject({
        code: 'RELAY_WEBHOOK_INVALID_BODY',
        status: 400,
      });
    }
  });

  it('Records that is not an array is refused', () => {
    for (const records of ['{}', '"x"', '5', 'null']) {
      for (const route of [undefined, 'mcs', 'ceph'] as const) {
        const refused = rejection(parse(`{"Records":${records}}`, route));
        expect(refused).toEqual({
          code: 'RELAY_WEBHOOK_INVALID_BODY',
          status: 400,
          message: 'Records must be an array',
        });
      }
    }
  });

  it('two records give two tasks, in order', () => {
    const body = {
      Records: [
        awsRecord('ObjectCreated:Put', 'bkt', { key: 'first', size: 1, sequencer: '01' }),
        awsRecord('ObjectRemoved:Delete', 'bkt', { key: 'second', sequencer: '02' }),
      ],
    };
    expect(tasksOf(parse(body)).map((task) => [task.key, task.kind])).toEqual([
      ['first', 'created'],
      ['second', 'removed'],
    ]);
  });

  it('unknown event names pass through as kind other', () => {
    const body = {
      EventName: 's3:Scanner:BigPrefix',
      Records: [
        {
          eventVersion: '2.0',
          eventSource: 'minio:s3',
          eventName: 's3:Scanner:BigPrefix',
          s3: { bucket: { name: 'mybucket' }, object: { key: 'prefix%2F' } },
        },
      ],
    };
    expect(tasksOf(parse(body)).map((task) => [task.eventName, task.kind, task.key])).toEqual([
      ['Scanner:BigPrefix', 'other', 'prefix/'],
    ]);
    const ceph = {
      Records: [
        {
          eventSource: 'ceph:s3',
          eventName: 'ObjectTagging:Put',
          s3: { bucket: { name: 'bkt' }, object: { key: 'k' } },
        },
      ],
    };
    expect(tasksOf(parse(ceph)).map((task) => [task.eventName, task.kind])).toEqual([
      ['ObjectTagging:Put', 'other'],
    ]);
  });

  it('a VK record has no eventTime (receivedAt says when it came) and a numeric sequencer', () => {
    const [task] = tasksOf(parse(readWebhookFixture('vk-notification.json')));
    expect(task).toMatchObject({
      eventTime: null,
      receivedAt: RECEIVED_AT.toISOString(),
      sequencer: '1577453615',
    });
  });

  it('an SNS Notification whose Message is not an S3 event gives no task and a warning', () => {
    for (const message of ['hello', '{"hello":1}', '[1,2]', '"text"', '42', 'null']) {
      expect(parse(snsNotification(message))).toMatchObject({
        type: 'sns',
        tasks: [],
        warnings: [expect.stringMatching(/^the SNS Message is not (JSON|an S3 event)/)],
      });
    }
  });

  it('SNS raw message delivery (a bare S3 body) is refused as unsigned', () => {
    const body = { Records: [awsRecord('ObjectCreated:Put', 'bkt', { key: 'k', size: 1 })] };
    const testEvent = { Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'bkt' };
    for (const value of ['true', 'True', ['true']]) {
      for (const route of [undefined, 's3', 'minio', 'sns'] as const) {
        for (const payload of [body, testEvent]) {
          expect(
            rejection(parse(payload, route, { 'x-amz-sns-rawdelivery': value })),
          ).toMatchObject({ code: 'RELAY_WEBHOOK_UNSUPPORTED', status: 400 });
        }
      }
    }
    // On the sns route a bare body is raw delivery even when the header went missing.
    expect(rejection(parse(body, 'sns'))).toMatchObject({ code: 'RELAY_WEBHOOK_UNSUPPORTED' });
    // The header does not turn a real envelope into raw delivery: the body decides.
    expect(
      parse(readWebhookFixture('notif-v1.json'), 'sns', { 'x-amz-sns-rawdelivery': 'true' }).type,
    ).toBe('sns');
    expect(parse(body, 's3', { 'x-amz-sns-rawdelivery': 'false' }).type).toBe('records');
  });
});

describe('S3 TestEvents', () => {
  const testEvent = {
    Service: 'Amazon S3',
    Event: 's3:TestEvent',
    Time: '2026-11-29T00:00:00.000Z',
    Bucket: 'bucketA',
    RequestId: 'C3D13FE58DE4C810',
    HostId: 'FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD',
  };

  it('a bare AWS TestEvent gives no task', () => {
    expect(parse(testEvent)).toEqual({ type: 'records', source: 's3', tasks: [], warnings: [] });
    expect(parse(testEvent, 's3')).toMatchObject({ type: 'records', source: 's3', tasks: [] });
  });

  it('a VK TestEvent gives no task, whether AWS-shaped or as a record', () => {
    expect(parse(testEvent, 'mcs')).toEqual({
      type: 'records',
      source: 'mcs',
      tasks: [],
      warnings: [],
    });
    const asRecord = {
      Records: [
        {
          eventVersion: '1.0',
          eventSource: 'aws:s3',
          eventName: 's3:TestEvent',
          awsRegion: 'ru-msk',
        },
      ],
    };
    for (const route of [undefined, 'mcs'] as const) {
      expect(parse(asRecord, route)).toEqual({
        type: 'records',
        source: 'mcs',
        tasks: [],
        warnings: [],
      });
    }
  });

  it('a TestEvent record without the s3: prefix gives no task either', () => {
    const body = { Records: [{ eventSource: 'ceph:s3', eventName: 'TestEvent' }] };
    expect(parse(body)).toEqual({ type: 'records', source: 'ceph', tasks: [], warnings: [] });
  });
});

describe('key decoding through parseWebhook', () => {
  it.each([
    ['red+flower.jpg', 'red flower.jpg'],
    ['a%2Bb.txt', 'a+b.txt'],
    ['photos/2024/%D1%84%D0%BE%D1%82%D0%BE+1.jpg', 'photos/2024/фото 1.jpg'],
    ['test%2F10%3A47%3A07.log', 'test/10:47:07.log'],
    ['100%25.txt', '100%.txt'],
  ])('AWS %s → %s', (raw, key) => {
    const body = { Records: [awsRecord('ObjectCreated:Put', 'bkt', { key: raw, size: 1 })] };
    const result = parse(body, 's3');
    expect(tasksOf(result).map((task) => task.key)).toEqual([key]);
    expect(warningsOf(result)).toEqual([]);
  });

  it('keeps a key with a malformed escape as received, with a warning', () => {
    const body = {
      Records: [
        awsRecord('ObjectCreated:Put', 'bkt', { key: 'fine+key', size: 1 }),
        awsRecord('ObjectCreated:Put', 'bkt', { key: 'bad%E0%A4%A.txt', size: 1 }),
      ],
    };
    const result = parse(body);
    expect(tasksOf(result).map((task) => task.key)).toEqual(['fine key', 'bad%E0%A4%A.txt']);
    expect(warningsOf(result)).toEqual([
      'Records[1]: key "bad%E0%A4%A.txt" has a malformed %-escape; kept as received',
    ]);
  });

  it('MinIO: warns when the decoded key differs from the top-level Key', () => {
    const body = JSON.parse(readWebhookFixture('minio-put.json').toString('utf8')) as Record<
      string,
      unknown
    >;
    body.Key = 'mybucket/photos/my file 1.jpg';
    const result = parse(body);
    expect(tasksOf(result).map((task) => task.key)).toEqual(['photos/my file+1.jpg']);
    expect(warningsOf(result)).toEqual([
      'the decoded key "photos/my file+1.jpg" does not match the top-level Key "mybucket/photos/my file 1.jpg" minus "mybucket/"',
    ]);
  });

  it('a key of 1024 bytes passes; 1025 bytes refuses the body; the decoded length counts', () => {
    const ok = (key: string): object => ({
      Records: [awsRecord('ObjectCreated:Put', 'bkt', { key })],
    });
    expect(tasksOf(parse(ok('a'.repeat(1024)))).length).toBe(1);
    // 512 × "ж" is 1024 bytes decoded, 3072 characters encoded.
    expect(tasksOf(parse(ok('%D0%B6'.repeat(512))))[0]?.key).toBe('ж'.repeat(512));
    for (const key of ['a'.repeat(1025), 'ж'.repeat(513)]) {
      expect(rejection(parse(ok(key)))).toEqual({
        code: 'RELAY_WEBHOOK_INVALID_BODY',
        status: 400,
        message: 'Records[0]: s3.object.key is longer than 1024 bytes of UTF-8',
      });
    }
  });
});

describe('invalid records refuse the whole body', () => {
  const good = awsRecord('ObjectCreated:Put', 'bkt', { key: 'good', size: 1 });

  it.each([
    ['a record that is not an object', 'x', 'Records[1]: not an object'],
    [
      'no bucket',
      awsRecord('ObjectCreated:Put', '', { key: 'k' }),
      'Records[1]: s3.bucket.name is missing, empty or not a string',
    ],
    [
      'no key',
      awsRecord('ObjectCreated:Put', 'bkt', { size: 1 }),
      'Records[1]: s3.object.key is missing, empty or not a string',
    ],
    [
      'an empty key',
      awsRecord('ObjectCreated:Put', 'bkt', { key: '' }),
      'Records[1]: s3.object.key is missing, empty or not a string',
    ],
    [
      'a numeric key',
      awsRecord('ObjectCreated:Put', 'bkt', { key: 7 }),
      'Records[1]: s3.object.key is missing, empty or not a string',
    ],
    ['no s3', { ...good, s3: undefined }, 'Records[1]: s3 is missing or not an object'],
    [
      'no s3.object',
      { ...good, s3: { bucket: { name: 'bkt' } } },
      'Records[1]: s3.object is missing or not an object',
    ],
    [
      'no eventName',
      { ...good, eventName: undefined },
      'Records[1]: eventName is missing or not a string',
    ],
    ['an eventName of just "s3:"', { ...good, eventName: 's3:' }, 'Records[1]: eventName is empty'],
    [
      'a lone surrogate in the key',
      awsRecord('ObjectCreated:Put', 'bkt', { key: 'a\ud800b' }),
      'Records[1]: s3.object.key is not valid Unicode',
    ],
  ])('%s', (_name, bad, message) => {
    expect(rejection(parse({ Records: [good, bad, good] }))).toEqual({
      code: 'RELAY_WEBHOOK_INVALID_BODY',
      status: 400,
      message,
    });
  });
});

describe('bucket names', () => {
  const good = awsRecord('ObjectCreated:Put', 'bkt', { key: 'good', size: 1 });

  it.each([
    ['an option', '-rf', 'must begin and end with a letter or digit'],
    ['a path', '../etc', 'may hold only letters, digits'],
    ['a newline', 'a\nb', 'may hold only letters, digits'],
    ['too short', 'ab', 'must be 3 to 255 characters long'],
    ['an IP address', '10.0.0.1', 'must not be an IP address'],
  ])('refuses %s with its own code, naming the bucket', (_what, bucket, why) => {
    const bad = awsRecord('ObjectCreated:Put', bucket, { key: 'k', size: 1 });
    const refused = rejection(parse({ Records: [good, bad] }));
    expect(refused).toMatchObject({ code: 'RELAY_WEBHOOK_INVALID_BUCKET', status: 400 });
    expect(refused?.message).toContain(
      `Records[1]: s3.bucket.name ${JSON.stringify(bucket)} is not an S3 bucket name: it ${why}`,
    );
  });

  it('refuses it inside an SNS Message too', () => {
    const message = JSON.stringify({
      Records: [awsRecord('ObjectCreated:Put', '-rf', { key: 'k' })],
    });
    const result = parse(snsNotification(message));
    expect(rejection(result)?.code).toBe('RELAY_WEBHOOK_INVALID_BUCKET');
  });
});

describe('advisory fields', () => {
  const withObject = (object: Record<string, unknown>): object => ({
    Records: [awsRecord('ObjectCreated:Put', 'bkt', { key: 'k', ...object })],
  });

  it('takes sizes as numbers or decimal strings, exactly', () => {
    for (const [size, expected] of [
      [0, 0],
      ['0', 0],
      ['0012', 12],
      [9007199254740991, 9007199254740991],
      ['9007199254740991', 9007199254740991],
      [null, null],
    ] as const) {
      const result = parse(withObject({ size }));
      expect(tasksOf(result).map((task) => task.size)).toEqual([expected]);
      expect(warningsOf(result)).toEqual([]);
    }
  });

  it('sends an unusable size as null with a warning, keeping the event', () => {
    for (const size of [
      -1,
      1.5,
      '12abc',
      '',
      ' 12',
      '-3',
      '9007199254740993',
      9007199254740992,
      true,
      {},
    ]) {
      const result = parse(withObject({ size }));
      expect(tasksOf(result).map((task) => task.size)).toEqual([null]);
      expect(warningsOf(result)).toEqual([
        expect.stringMatching(/^Records\[0\]: size .* sent as null$/),
      ]);
    }
  });

  it('unquotes eTags, drops "" and "null" versionIds, stringifies numeric sequencers', () => {
    const [task] = tasksOf(
      parse(
        withObject({
          eTag: '"9e30708dc09064bb76d8460c08cbabcb"',
          versionId: 'null',
          sequencer: 42,
        }),
      ),
    );
    expect(task).toMatchObject({
      eTag: '9e30708dc09064bb76d8460c08cbabcb',
      versionId: null,
      sequencer: '42',
    });
    expect(tasksOf(parse(withObject({ versionId: '' })))[0]?.versionId).toBeNull();
  });

  it('sends wrongly typed hints as null with a warning', () => {
    const result = parse(withObject({ eTag: 5, versionId: ['v'], sequencer: -1 }));
    expect(tasksOf(result)[0]).toMatchObject({ eTag: null, versionId: null, sequencer: null });
    expect(warningsOf(result)).toEqual([
      'Records[0]: eTag 5 is not a string; sent as null',
      'Records[0]: versionId an array is not a string; sent as null',
      'Records[0]: sequencer -1 is not a whole number that JSON carries exactly; sent as null',
    ]);
  });

  it('keeps at most 20 warnings and counts the rest', () => {
    const records = Array.from({ length: 50 }, (_, i) =>
      awsRecord('ObjectCreated:Put', 'bkt', { key: `k${i}`, size: -1 }),
    );
    const result = parse({ Records: records });
    expect(tasksOf(result)).toHaveLength(50);
    expect(warningsOf(result)).toHaveLength(21);
    expect(warningsOf(result)[20]).toBe('30 more warnings omitted');
  });
});

describe('source detection and routes', () => {
  const record = (overrides: Record<string, unknown>): Record<string, unknown> =>
    awsRecord('ObjectCreated:Put', 'bkt', { key: 'k', size: 1, sequencer: '01' }, overrides);

  it.each([
    ['aws:s3 with eventVersion 2.x is AWS', { eventVersion: '2.1' }, 's3'],
    ['aws:s3 with eventVersion 1.0 is VK', { eventVersion: '1.0' }, 'mcs'],
    ['aws:s3 in ru-msk is VK', { awsRegion: 'ru-msk' }, 'mcs'],
    ['aws:s3 in kz-ast is VK', { awsRegion: 'kz-ast' }, 'mcs'],
    [
      'aws:s3 with a numeric sequencer is VK',
      { s3: { bucket: { name: 'bkt' }, object: { key: 'k', sequencer: 5 } } },
      'mcs',
    ],
    [
      'aws:s3 with an mcs owner is VK',
      {
        s3: {
          bucket: { name: 'bkt', ownerIdentity: { principalId: 'mcs2883541269' } },
          object: { key: 'k' },
        },
      },
      'mcs',
    ],
    ['minio:s3 is MinIO', { eventSource: 'minio:s3' }, 'minio'],
    ['ceph:s3 is Ceph', { eventSource: 'ceph:s3' }, 'ceph'],
  ])('%s', (_name, overrides, source) => {
    const result = parse({ Records: [record(overrides)] });
    expect(result).toMatchObject({ type: 'records', source });
    expect(tasksOf(result)[0]?.origin).toBe(source);
  });

  it.each([
    [
      'an unknown eventSource',
      { Records: [{ eventSource: 'tigris', eventName: 'x' }] },
      'no record names its source',
    ],
    [
      'aws:s3 with eventVersion 3.0',
      { Records: [{ eventSource: 'aws:s3', eventVersion: '3.0' }] },
      'no record names its source',
    ],
    [
      'records from two sources',
      { Records: [record({ eventSource: 'minio:s3' }), record({ eventSource: 'ceph:s3' })] },
      'Records[0] looks like minio but Records[1] like ceph',
    ],
    [
      'a MinIO top-level Key with a Ceph record',
      { Key: 'b/k', Records: [record({ eventSource: 'ceph:s3' })] },
      'the top-level EventName/Key looks like minio but Records[0] like ceph',
    ],
  ])('refuses %s without a route', (_name, body, why) => {
    expect(rejection(parse(body))).toEqual({
      code: 'RELAY_WEBHOOK_UNKNOWN_SOURCE',
      status: 400,
      message: `cannot tell the source: ${why}; post it to /webhook/<source>`,
    });
  });

  it('reads records as the route says, warning when they look like another source', () => {
    const result = parse({ Records: [record({ eventSource: 'minio:s3' })] }, 'ceph');
    expect(result).toMatchObject({
      type: 'records',
      source: 'ceph',
      warnings: ['the route says ceph but the records look like minio; read as ceph'],
    });
    expect(tasksOf(result)[0]?.origin).toBe('ceph');
  });

  it('reads an SNS envelope as SNS on any route', () => {
    const message = JSON.stringify({ Records: [record({})] });
    for (const route of ['mcs', 'minio', 'ceph', 's3'] as const) {
      const result = parse(snsNotification(message), route);
      expect(result).toMatchObject({
        type: 'sns',
        warnings: [`the route says ${route} but the body is an SNS envelope; read as SNS`],
      });
      expect(tasksOf(result)[0]?.origin).toBe('sns');
    }
  });

  it('refuses a route that is not a source', () => {
    expect(
      rejection(
        parseWebhook({
          source: 'b2' as WebhookSource,
          headers: {},
          body: readWebhookFixture('b2-upload.body'),
          receivedAt: RECEIVED_AT,
        }),
      ),
    ).toEqual({
      code: 'RELAY_WEBHOOK_UNKNOWN_SOURCE',
      status: 400,
      message: 'unknown webhook source "b2"',
    });
  });

  it('accepts every source as a route', () => {
    expect(WEBHOOK_SOURCES.map((route) => parse('{"Records":[]}', route).type)).toEqual([
      'records',
      'rejected', // sns: a bare body there is raw delivery
      'records',
      'records',
      'records',
    ]);
  });
});

describe('SNS envelopes', () => {
  it('reads an UnsubscribeConfirmation without tasks', () => {
    const body = snsNotification('You have chosen to deactivate subscription', {
      Type: 'UnsubscribeConfirmation',
      Token: 'token',
      SubscribeURL: 'https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=token',
      Subject: undefined,
      UnsubscribeURL: undefined,
    });
    expect(parse(body)).toMatchObject({
      type: 'sns',
      message: { Type: 'UnsubscribeConfirmation', Token: 'token' },
      tasks: [],
      warnings: [],
    });
  });

  it('keeps no SubscribeURL or Token on a Notification, and treats a null Subject as absent', () => {
    const result = parse(
      snsNotification('hello', {
        Subject: null,
        SubscribeURL: 'https://evil.example/',
        Token: 't',
      }),
    );
    expect(result.type).toBe('sns');
    if (result.type !== 'sns') return;
    expect(Object.keys(result.message).sort()).toEqual([
      'Message',
      'MessageId',
      'Signature',
      'SignatureVersion',
      'SigningCertURL',
      'Timestamp',
      'TopicArn',
      'Type',
      'UnsubscribeURL',
    ]);
  });

  it.each([
    [
      'a numeric SignatureVersion',
      { SignatureVersion: 1 },
      'SNS envelope: SignatureVersion is not a string',
    ],
    ['no MessageId', { MessageId: undefined }, 'SNS envelope: MessageId is missing'],
    ['a numeric Subject', { Subject: 3 }, 'SNS envelope: Subject is not a string'],
    [
      'an unknown Type',
      { Type: 'Other' },
      'SNS envelope: Type must be Notification, SubscriptionConfirmation or UnsubscribeConfirmation',
    ],
    [
      'a SubscriptionConfirmation without Token and SubscribeURL',
      { Type: 'SubscriptionConfirmation' },
      'SNS envelope: Token is missing; SubscribeURL is missing',
    ],
    [
      'an AWS-like SubscriptionConfirmation with a numeric SignatureVersion',
      {
        Type: 'SubscriptionConfirmation',
        SignatureVersion: 1,
        Token: 't',
        SubscribeURL: 'https://x/',
      },
      'SNS envelope: SignatureVersion is not a string',
    ],
  ])('refuses %s', (_name, overrides, message) => {
    expect(rejection(parse(snsNotification('hello', overrides)))).toEqual({
      code: 'RELAY_WEBHOOK_INVALID_BODY',
      status: 400,
      message,
    });
  });

  it('refuses a Notification whose S3 records are invalid, naming the record', () => {
    const message = JSON.stringify({
      Records: [
        awsRecord('ObjectCreated:Put', 'bkt', { key: 'k' }),
        awsRecord('ObjectCreated:Put', 'bkt', {}),
      ],
    });
    expect(rejection(parse(snsNotification(message)))).toEqual({
      code: 'RELAY_WEBHOOK_INVALID_BODY',
      status: 400,
      message: 'Message.Records[1]: s3.object.key is missing, empty or not a string',
    });
    expect(rejection(parse(snsNotification('{"Records":{}}')))).toMatchObject({
      message: 'Message.Records must be an array',
    });
  });

  it('form-decodes keys inside the Message', () => {
    const message = JSON.stringify({
      Records: [awsRecord('ObjectCreated:Put', 'bkt', { key: 'a+b%2Bc', size: 1 })],
    });
    expect(tasksOf(parse(snsNotification(message))).map((task) => [task.origin, task.key])).toEqual(
      [['sns', 'a b+c']],
    );
  });
});

describe('bodies that are not JSON objects', () => {
  it.each([
    ['empty', ''],
    ['text', 'not json'],
    ['truncated', '{"Records":['],
    ['two values', '{} {}'],
  ])('refuses %s as malformed JSON', (_name, text) => {
    expect(rejection(parse(text))).toMatchObject({
      code: 'RELAY_WEBHOOK_MALFORMED_JSON',
      status: 400,
    });
  });

  it('refuses bytes that are not UTF-8 instead of guessing a key', () => {
    const bytes = Buffer.concat([
      Buffer.from(
        '{"Records":[{"eventSource":"ceph:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"',
      ),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}}}]}'),
    ]);
    expect(rejection(parse(bytes))).toEqual({
      code: 'RELAY_WEBHOOK_MALFORMED_JSON',
      status: 400,
      message: 'the body is not UTF-8 text',
    });
  });

  it('accepts a UTF-8 byte order mark', () => {
    const bytes = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      readWebhookFixture('ceph-put.json'),
    ]);
    expect(tasksOf(parse(bytes))).toHaveLength(1);
  });

  it.each([['[]'], ['[{"Records":[]}]'], ['42'], ['"text"'], ['null'], ['true']])(
    'refuses %s: the body must be an object',
    (text) => {
      expect(rejection(parse(text, 's3'))).toEqual({
        code: 'RELAY_WEBHOOK_INVALID_BODY',
        status: 400,
        message: 'the body must be a JSON object',
      });
    },
  );
});
