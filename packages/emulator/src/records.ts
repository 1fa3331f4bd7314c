import type { ObjectEventName } from './event-matching.js';
import { encodeEventKey } from './key-encoding.js';

/** VK Cloud's region name, as in its event records. */
export const VK_REGION = 'ru-msk';

/**
 * One record of a VK Cloud event body (`{"Records":[…]}`), in the shape of VK's documented
 * example: eventVersion "1.0", `s3:`-prefixed eventName, a numeric sequencer, no eventTime, no
 * bucket ARN, no versionId. Deletions carry no size and no eTag (as on AWS).
 */
export interface VkEventRecord {
  readonly s3: {
    readonly object: {
      readonly eTag?: string;
      readonly sequencer: number;
      /** Form-encoded, see {@link encodeEventKey}. */
      readonly key: string;
      readonly size?: number;
    };
    readonly configurationId: string;
    readonly bucket: {
      readonly name: string;
      readonly ownerIdentity: { readonly principalId: string };
    };
    readonly s3SchemaVersion: '1.0';
  };
  readonly eventVersion: '1.0';
  readonly requestParameters: { readonly sourceIPAddress: string };
  readonly userIdentity: { readonly principalId: string };
  readonly eventName: `s3:${ObjectEventName}`;
  readonly awsRegion: typeof VK_REGION;
  readonly eventSource: 'aws:s3';
  readonly responseElements: { readonly 'x-amz-request-id': string };
}

/** An object change observed by the emulator, before it is matched against webhooks. */
export interface ObjectEvent {
  readonly eventName: ObjectEventName;
  readonly bucket: string;
  /** Decoded, as stored. */
  readonly key: string;
  readonly size?: number;
  /** Unquoted. */
  readonly eTag?: string;
  readonly sequencer: number;
  readonly sourceIp: string;
  readonly requestId: string;
}

/** Who owns the bucket and who made the requests, as the records name them. */
export interface RecordIdentity {
  /** `mcs…`, VK's project (owner) id. */
  readonly ownerId: string;
  /** The user who made the requests (a UUID in VK's example). */
  readonly userId: string;
}

/** The record that a webhook configuration `configurationId` receives for `event`. */
export function createRecord(
  event: ObjectEvent,
  configurationId: string,
  identity: RecordIdentity,
): VkEventRecord {
  const isRemoval = event.eventName.startsWith('ObjectRemoved:');
  return {
    s3: {
      object: {
        ...(isRemoval || event.eTag === undefined ? {} : { eTag: event.eTag }),
        sequencer: event.sequencer,
        key: encodeEventKey(event.key),
        ...(isRemoval || event.size === undefined ? {} : { size: event.size }),
      },
      configurationId,
      bucket: { name: event.bucket, ownerIdentity: { principalId: identity.ownerId } },
      s3SchemaVersion: '1.0',
    },
    eventVersion: '1.0',
    requestParameters: { sourceIPAddress: event.sourceIp },
    userIdentity: { principalId: identity.userId },
    eventName: `s3:${event.eventName}`,
    awsRegion: VK_REGION,
    eventSource: 'aws:s3',
    responseElements: { 'x-amz-request-id': event.requestId },
  };
}

/**
 * Numeric sequencers that increase strictly per bucket, in the order the emulator saw operations
 * complete. VK's example sequencer looks like unix seconds; these are milliseconds since the epoch
 * (so they keep increasing across restarts of the emulator), bumped by one when several
 * operations complete within the same millisecond.
 */
export class SequencerClock {
  readonly #last = new Map<string, number>();

  next(bucket: string): number {
    const value = Math.max(Date.now(), (this.#last.get(bucket) ?? 0) + 1);
    this.#last.set(bucket, value);
    return value;
  }
}
