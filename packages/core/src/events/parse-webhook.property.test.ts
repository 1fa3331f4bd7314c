import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { httpStatusOf } from '../errors.js';
import { TaskSchema, WEBHOOK_SOURCES } from '../task.js';
import { parseWebhook } from './parse-webhook.js';
import type { WebhookHeaders, WebhookParseResult } from './types.js';

const RECEIVED_AT = new Date('2026-11-29T12:00:00.000Z');
const ROUTES = [undefined, ...WEBHOOK_SOURCES] as const;
const HEADER_SETS: readonly WebhookHeaders[] = [
  {},
  { 'x-amz-sns-rawdelivery': 'true' },
  { 'x-amz-sns-message-type': ['SubscriptionConfirmation', 'Notification'] },
];
const CODES = [
  'RELAY_WEBHOOK_MALFORMED_JSON',
  'RELAY_WEBHOOK_INVALID_BODY',
  'RELAY_WEBHOOK_INVALID_BUCKET',
  'RELAY_WEBHOOK_UNKNOWN_SOURCE',
  'RELAY_WEBHOOK_UNSUPPORTED',
];

/** How many tasks the properties saw, to prove they exercised the task-building paths. */
let tasksSeen = 0;

/** The invariants of a result: a member of the union, every task valid against the contract. */
function checkResult(result: WebhookParseResult): void {
  switch (result.type) {
    case 'records':
    case 'sns':
      if (result.type === 'records' && !WEBHOOK_SOURCES.includes(result.source)) {
        throw new Error(`unknown source ${result.source}`);
      }
      for (const task of result.tasks) {
        const check = TaskSchema.safeParse(task);
        if (!check.success) {
          throw new Error(`invalid task ${JSON.stringify(task)}: ${check.error.message}`);
        }
      }
      if (!result.warnings.every((warning) => typeof warning === 'string')) {
        throw new Error(`warnings ${JSON.stringify(result.warnings)}`);
      }
      tasksSeen += result.tasks.length;
      return;
    case 'vk-handshake':
      for (const value of Object.values(result.handshake)) {
        if (typeof value !== 'string' || value === '') throw new Error('handshake field');
      }
      return;
    case 'rejected':
      if (!CODES.includes(result.rejection.code) || httpStatusOf(result.rejection.code) !== 400) {
        throw new Error(`rejection ${JSON.stringify(result.rejection)}`);
      }
      return;
    default:
      throw new Error(`not a result: ${JSON.stringify(result)}`);
  }
}

/** Parses `body` under every route and header set; a throw fails the property. */
function parsesEverywhere(body: Buffer): void {
  for (const source of ROUTES) {
    for (const headers of HEADER_SETS) {
      checkResult(parseWebhook({ source, headers, body, receivedAt: RECEIVED_AT }));
    }
  }
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');

/** Keys rich in what decoders trip on: escapes good and bad, `+`, Unicode, lone surrogates. */
const keyish = fc.string({
  unit: fc.constantFrom(
    'a',
    '/',
    ' ',
    '+',
    '%',
    '%2B',
    '%2F',
    '%E0',
    '%D0%B6',
    'ж',
    '☃',
    '\ud800',
    '0',
  ),
  minLength: 1,
  maxLength: 12,
});
const anyValue = fc.jsonValue({ maxDepth: 3 });
/** Mostly a plausible value, sometimes any JSON at all. */
const maybe = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 4, arbitrary }, { weight: 1, arbitrary: anyValue });

/** Objects shaped like S3 event records, each field plausible or arbitrary, any of them absent. */
const recordish = fc.record(
  {
    eventSource: maybe(fc.constantFrom('aws:s3', 'minio:s3', 'ceph:s3')),
    eventVersion: maybe(fc.constantFrom('1.0', '2.0', '2.1', '2.3', '3.0')),
    awsRegion: maybe(fc.constantFrom('ru-msk', 'us-east-1', '')),
    eventName: maybe(
      fc.constantFrom(
        's3:ObjectCreated:Put',
        'ObjectRemoved:Delete',
        's3:TestEvent',
        's3:',
        'Weird:Thing',
      ),
    ),
    eventTime: maybe(fc.constantFrom('2024-05-01T10:00:00.123Z', '')),
    s3: maybe(
      fc.record(
        {
          bucket: maybe(
            fc.record(
              {
                name: maybe(fc.constantFrom('b01', 'mybucket', '-rf', '')),
                ownerIdentity: anyValue,
              },
              { requiredKeys: ['name'] },
            ),
          ),
          object: maybe(
            fc.record(
              {
                key: maybe(keyish),
                size: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.maxSafeNat(), anyValue),
                eTag: maybe(fc.constantFrom('"abc"', 'abc', '', '"')),
                versionId: maybe(fc.constantFrom('null', '', 'v1')),
                sequencer: fc.oneof(
                  fc.integer(),
                  fc.double(),
                  fc.string({ unit: fc.constantFrom(...'0123456789ABCDEF') }),
                  anyValue,
                ),
              },
              { requiredKeys: ['key'] },
            ),
          ),
        },
        { requiredKeys: ['bucket', 'object'] },
      ),
    ),
  },
  // The fields a task needs are always there (plausible or not); jsonValue covers their absence.
  { requiredKeys: ['eventName', 's3'] },
);

/** Records a task can be made of, with every hint field (size, eTag, …) arbitrary. */
const taskRecord = fc.record({
  eventSource: fc.constantFrom('aws:s3', 'minio:s3', 'ceph:s3'),
  eventVersion: fc.constantFrom('1.0', '2.1'),
  eventName: fc.constantFrom('s3:ObjectCreated:Put', 'ObjectRemoved:Delete', 'Weird:Thing'),
  eventTime: anyValue,
  s3: fc.record({
    bucket: fc.record({ name: fc.constantFrom('b01', 'mybucket') }),
    object: fc.record({
      key: fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }),
      size: fc.oneof(fc.maxSafeNat(), fc.double(), fc.string(), anyValue),
      eTag: fc.oneof(fc.string({ maxLength: 300 }), anyValue),
      versionId: anyValue,
      sequencer: fc.oneof(fc.double(), fc.integer(), anyValue),
    }),
  }),
});

const recordsBody = fc.record(
  {
    Records: maybe(
      fc.array(
        fc.oneof(
          { weight: 4, arbitrary: taskRecord },
          { weight: 4, arbitrary: recordish },
          { weight: 1, arbitrary: anyValue },
        ),
        {
          maxLength: 4,
        },
      ),
    ),
    EventName: anyValue,
    Key: maybe(fc.constantFrom('b/k', 'mybucket/a b')),
    Event: fc.constantFrom('s3:TestEvent', 'other'),
  },
  { requiredKeys: ['Records'] },
);

const snsEnvelope = fc.record(
  {
    Type: maybe(
      fc.constantFrom('Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation'),
    ),
    MessageId: maybe(fc.string()),
    TopicArn: maybe(fc.string()),
    Message: fc.oneof(
      fc.string(),
      recordsBody.map((body) => JSON.stringify(body)),
      anyValue,
    ),
    Timestamp: maybe(fc.string()),
    SignatureVersion: maybe(fc.constantFrom('1', '2', 1)),
    Signature: maybe(fc.base64String()),
    SigningCertURL: maybe(fc.webUrl()),
    Subject: maybe(fc.string()),
    Token: maybe(fc.string()),
    SubscribeURL: maybe(fc.webUrl()),
    UnsubscribeURL: maybe(fc.webUrl()),
  },
  { requiredKeys: [] },
);

// 12,000 cases in all, each parsed under 6 routes × 3 header sets, after fast-check's table of
// every code point for the binary strings (built once, seconds on a busy machine): a second or
// two per property alone, several times that while the integration tiers share the machine.
describe('parseWebhook never throws and only returns valid tasks', { timeout: 60_000 }, () => {
  it('on arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary' }), (value) => parsesEverywhere(json(value))),
      { numRuns: 2000 },
    );
  });

  it('on arbitrary JSON as the single record of a body', () => {
    fc.assert(
      fc.property(anyValue, (value) => parsesEverywhere(json({ Records: [value] }))),
      { numRuns: 2000 },
    );
  });

  it('on record-shaped bodies with arbitrary fields', () => {
    fc.assert(
      fc.property(recordsBody, (body) => parsesEverywhere(json(body))),
      { numRuns: 3000 },
    );
  });

  it('on SNS-envelope-shaped bodies, with record-shaped Messages', () => {
    fc.assert(
      fc.property(snsEnvelope, (body) => parsesEverywhere(json(body))),
      { numRuns: 2500 },
    );
  });

  it('on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) =>
        parsesEverywhere(Buffer.from(bytes)),
      ),
      { numRuns: 2500 },
    );
  });

  it('exercised the task-building paths', () => {
    expect(tasksSeen).toBeGreaterThan(1000);
  });
});
