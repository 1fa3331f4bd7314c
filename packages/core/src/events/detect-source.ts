import type { WebhookSource } from '../task.js';
import { hasField, isJsonObject, type JsonObject } from './json-object.js';

/**
 * What a webhook body is, judged from the body alone. Headers are not consulted: VK Cloud has
 * sent its handshake under three different `x-amz-sns-message*` headers over the years, and SNS
 * envelopes may arrive on any route.
 */
export type BodyShape =
  /** A VK Cloud (MCS) SubscriptionConfirmation: answer it with the HMAC signature. */
  | 'vk-confirmation'
  /** An AWS SNS envelope (Notification, SubscriptionConfirmation or UnsubscribeConfirmation). */
  | 'sns-envelope'
  /** A bare S3 event body: `{"Records": …}`. */
  | 's3-records'
  /** A bare S3 TestEvent: `{"Service":"Amazon S3","Event":"s3:TestEvent",…}`, no records. */
  | 's3-test-event'
  | 'unknown';

const SNS_TYPES: ReadonlySet<unknown> = new Set([
  'Notification',
  'SubscriptionConfirmation',
  'UnsubscribeConfirmation',
]);

/** The name of the event S3 (and, by assumption, VK) sends when a notification is configured. */
const TEST_EVENT = 's3:TestEvent';

/**
 * Classifies a body. The VK confirmation is recognised first, by `Type` plus a numeric
 * `SignatureVersion` and no `SubscribeURL` (AWS sends the version as a string and always a
 * `SubscribeURL`). An SNS envelope is anything else carrying `SigningCertURL`, or an SNS `Type`
 * without `Records`: broader than "SigningCertURL and a string SignatureVersion" on purpose, so
 * that a damaged envelope is refused with the list of what is wrong with it instead of "unknown
 * source".
 */
export function bodyShape(body: JsonObject): BodyShape {
  if (
    body.Type === 'SubscriptionConfirmation' &&
    typeof body.SignatureVersion === 'number' &&
    !hasField(body, 'SubscribeURL')
  ) {
    return 'vk-confirmation';
  }
  const hasRecords = hasField(body, 'Records');
  if (hasField(body, 'SigningCertURL') || (SNS_TYPES.has(body.Type) && !hasRecords)) {
    return 'sns-envelope';
  }
  if (hasRecords) return 's3-records';
  if (body.Event === TEST_EVENT) return 's3-test-event';
  return 'unknown';
}

/** The outcome of guessing which source sent a `{"Records":[…]}` body. */
export type SourceDetection =
  | { readonly kind: 'detected'; readonly source: WebhookSource }
  /** Nothing in the body names a source (no records, or none with a known `eventSource`). */
  | { readonly kind: 'none' }
  /** Parts of the body point at different sources; `reason` says which. */
  | { readonly kind: 'conflict'; readonly reason: string };

const VK_REGIONS: ReadonlySet<unknown> = new Set(['ru-msk', 'kz-ast']);

/**
 * Guesses the source of a records body. MinIO is known by its top-level `EventName`/`Key` or
 * `eventSource` `minio:s3`, Ceph by `ceph:s3`. VK Cloud and AWS both write `aws:s3`: a record is
 * VK's when it shows any VK trait (eventVersion 1.x, a numeric sequencer, region ru-msk or
 * kz-ast, an `mcs…` bucket owner) and AWS's when its eventVersion is 2.x without such a trait.
 * Every record is looked at (linear, no allocation per record) so that a body mixing sources is
 * refused rather than decoded half wrong.
 */
export function detectRecordsSource(
  body: JsonObject,
  records: readonly unknown[],
): SourceDetection {
  let first: { readonly source: WebhookSource; readonly where: string } | undefined;
  if (hasField(body, 'EventName') || hasField(body, 'Key')) {
    first = { source: 'minio', where: 'the top-level EventName/Key' };
  }
  for (let index = 0; index < records.length; index += 1) {
    const source = recordSource(records[index]);
    if (source === undefined) continue;
    if (first === undefined) first = { source, where: `Records[${index}]` };
    else if (first.source !== source) {
      return {
        kind: 'conflict',
        reason: `${first.where} looks like ${first.source} but Records[${index}] like ${source}`,
      };
    }
  }
  return first === undefined ? { kind: 'none' } : { kind: 'detected', source: first.source };
}

function recordSource(record: unknown): WebhookSource | undefined {
  if (!isJsonObject(record)) return undefined;
  switch (record.eventSource) {
    case 'minio:s3':
      return 'minio';
    case 'ceph:s3':
      return 'ceph';
    case 'aws:s3':
      if (hasVkTrait(record)) return 'mcs';
      return typeof record.eventVersion === 'string' && /^2(\.|$)/.test(record.eventVersion)
        ? 's3'
        : undefined;
    default:
      return undefined;
  }
}

function hasVkTrait(record: JsonObject): boolean {
  if (typeof record.eventVersion === 'string' && /^1(\.|$)/.test(record.eventVersion)) return true;
  if (VK_REGIONS.has(record.awsRegion)) return true;
  const s3 = isJsonObject(record.s3) ? record.s3 : undefined;
  const object = s3 !== undefined && isJsonObject(s3.object) ? s3.object : undefined;
  if (typeof object?.sequencer === 'number') return true;
  const bucket = s3 !== undefined && isJsonObject(s3.bucket) ? s3.bucket : undefined;
  const owner =
    bucket !== undefined && isJsonObject(bucket.ownerIdentity) ? bucket.ownerIdentity : undefined;
  return typeof owner?.principalId === 'string' && owner.principalId.startsWith('mcs');
}
