import type { PermanentCode } from '../errors.js';
import type { VkHandshake } from '../signature.js';
import type { Task, WebhookSource } from '../task.js';

/** Header names lower-cased, as Node delivers them. */
export type WebhookHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

/** Input of {@link parseWebhook}: everything it needs, nothing it has to fetch. */
export interface WebhookInput {
  /** The source named by the route (`/webhook/<source>`), or `undefined` to detect it. */
  readonly source: WebhookSource | undefined;
  readonly headers: WebhookHeaders;
  readonly body: Buffer;
  /** When the ingress received the request; becomes the tasks' `receivedAt`. */
  readonly receivedAt: Date;
}

/** The fields of an AWS SNS message that its signature covers, plus what the ingress acts on. */
export interface SnsMessage {
  readonly Type: 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';
  readonly MessageId: string;
  readonly TopicArn: string;
  readonly Message: string;
  readonly Timestamp: string;
  readonly SignatureVersion: string;
  readonly Signature: string;
  readonly SigningCertURL: string;
  readonly Subject?: string;
  readonly Token?: string;
  readonly SubscribeURL?: string;
  readonly UnsubscribeURL?: string;
}

/** Why a webhook body was refused; the error catalogue gives each code its HTTP status. */
export interface WebhookRejection {
  readonly code: Extract<
    PermanentCode,
    | 'RELAY_WEBHOOK_MALFORMED_JSON'
    | 'RELAY_WEBHOOK_TOO_DEEP'
    | 'RELAY_WEBHOOK_INVALID_BODY'
    | 'RELAY_WEBHOOK_INVALID_BUCKET'
    | 'RELAY_WEBHOOK_UNKNOWN_SOURCE'
    | 'RELAY_WEBHOOK_UNSUPPORTED'
  >;
  readonly message: string;
}

/**
 * What a webhook body means. The parser is pure: it verifies nothing that needs I/O (the SNS
 * signature is checked by the ingress on `sns` results before anything is published).
 */
export type WebhookParseResult =
  /** Object events; `tasks` may be empty (a TestEvent, `{"Records":[]}`). */
  | {
      readonly type: 'records';
      readonly source: WebhookSource;
      readonly tasks: readonly Task[];
      /** Things an operator may want to know (a key with a malformed escape kept raw, …). */
      readonly warnings: readonly string[];
    }
  /** A VK Cloud (MCS) SubscriptionConfirmation: answer with the signature. */
  | { readonly type: 'vk-handshake'; readonly handshake: VkHandshake }
  /**
   * An AWS SNS envelope. For a Notification, `tasks` are the records inside `Message` (origin
   * `sns`), empty for a TestEvent or a Message that is not an S3 event (see `warnings`).
   */
  | {
      readonly type: 'sns';
      readonly message: SnsMessage;
      readonly tasks: readonly Task[];
      readonly warnings: readonly string[];
    }
  | { readonly type: 'rejected'; readonly rejection: WebhookRejection };
