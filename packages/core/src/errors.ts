/**
 * The error hierarchy of s3relay. Whether a failure is worth retrying is part of its type:
 * a {@link PermanentError} is dead-lettered at once, a {@link TransientError} goes through the
 * retry tiers. Codes are stable strings (`RELAY_<AREA>_<WHAT>`) that operators grep for and that
 * dead-lettered tasks carry in `x-s3relay-error-code`.
 */

/** Context that helps an operator find the object or message an error is about. */
export interface ErrorContext {
  readonly bucket?: string;
  readonly key?: string;
  readonly messageId?: string;
  readonly [name: string]: unknown;
}

export interface RelayErrorOptions {
  readonly cause?: unknown;
  readonly context?: ErrorContext;
}

/** Base class of every error s3relay raises on purpose. */
export abstract class RelayError extends Error {
  abstract readonly code: string;
  /** True when doing the same work again later may succeed. */
  abstract readonly retryable: boolean;
  readonly context: ErrorContext;

  constructor(message: string, options: RelayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.context = options.context ?? {};
  }
}

/** Thrown when retrying cannot help: the input or the permissions are wrong. */
export class PermanentError extends RelayError {
  override readonly name: string = 'PermanentError';
  readonly retryable = false;
  readonly code: string;

  constructor(code: string, message: string, options?: RelayErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Thrown when the same work may succeed later: the network, the broker or S3 is having trouble. */
export class TransientError extends RelayError {
  override readonly name: string = 'TransientError';
  readonly retryable = true;
  readonly code: string;

  constructor(code: string, message: string, options?: RelayErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Thrown by `loadConfig` when one or more environment variables are invalid; lists all of them. */
export class ConfigError extends PermanentError {
  override readonly name: string = 'ConfigError';
  constructor(message: string, options?: RelayErrorOptions) {
    super(ErrorCodes.configInvalid, message, options);
  }
}

/** The catalogue of error codes. */
export const ErrorCodes = {
  configInvalid: 'RELAY_CONFIG_INVALID',
  brokerUnavailable: 'RELAY_AMQP_UNAVAILABLE',
  brokerBlocked: 'RELAY_AMQP_BLOCKED',
  publishTimeout: 'RELAY_AMQP_PUBLISH_TIMEOUT',
  publishNacked: 'RELAY_AMQP_NACKED',
  publishUnroutable: 'RELAY_AMQP_UNROUTABLE',
  publishOverloaded: 'RELAY_AMQP_OVERLOADED',
  topologyMismatch: 'RELAY_AMQP_TOPOLOGY_MISMATCH',
  taskInvalid: 'RELAY_TASK_INVALID',
  deliveryLimit: 'RELAY_TASK_DELIVERY_LIMIT',
  s3AccessDenied: 'RELAY_S3_ACCESS_DENIED',
  s3NoSuchBucket: 'RELAY_S3_NO_SUCH_BUCKET',
  s3ClientError: 'RELAY_S3_CLIENT_ERROR',
  s3ServerError: 'RELAY_S3_SERVER_ERROR',
  s3Network: 'RELAY_S3_NETWORK',
  sourceChanged: 'RELAY_COPY_SOURCE_CHANGED',
  lengthMismatch: 'RELAY_COPY_LENGTH_MISMATCH',
  sourceStalled: 'RELAY_COPY_STALLED',
  keyOutsidePrefix: 'RELAY_COPY_KEY_OUTSIDE_PREFIX',
  scriptFailed: 'RELAY_SCRIPT_FAILED',
  scriptTimeout: 'RELAY_SCRIPT_TIMEOUT',
  shutdown: 'RELAY_SHUTDOWN',
  httpNotFound: 'RELAY_HTTP_NOT_FOUND',
  httpMethodNotAllowed: 'RELAY_HTTP_METHOD_NOT_ALLOWED',
  httpBadRequest: 'RELAY_HTTP_BAD_REQUEST',
  httpInternal: 'RELAY_HTTP_INTERNAL',
  webhookUnauthorized: 'RELAY_WEBHOOK_UNAUTHORIZED',
  webhookForbidden: 'RELAY_WEBHOOK_FORBIDDEN',
  webhookTooLarge: 'RELAY_WEBHOOK_TOO_LARGE',
  webhookBucketNotAllowed: 'RELAY_WEBHOOK_BUCKET_NOT_ALLOWED',
  snsCertUrlInvalid: 'RELAY_SNS_CERT_URL_INVALID',
  snsCertInvalid: 'RELAY_SNS_CERT_INVALID',
  snsCertUnavailable: 'RELAY_SNS_CERT_UNAVAILABLE',
  snsSignatureInvalid: 'RELAY_SNS_SIGNATURE_INVALID',
  snsTopicNotAllowed: 'RELAY_SNS_TOPIC_NOT_ALLOWED',
  snsReplay: 'RELAY_SNS_REPLAY',
  snsSubscribeUrlInvalid: 'RELAY_SNS_SUBSCRIBE_URL_INVALID',
  snsConfirmFailed: 'RELAY_SNS_CONFIRM_FAILED',
  s3InvalidCredentials: 'RELAY_S3_INVALID_CREDENTIALS',
  s3Unexpected: 'RELAY_S3_UNEXPECTED',
  keyTooLong: 'RELAY_COPY_KEY_TOO_LONG',
  sourceNotS3: 'RELAY_SOURCE_NOT_S3',
  sourceNoSuchBucket: 'RELAY_SOURCE_NO_SUCH_BUCKET',
  sourceAccessDenied: 'RELAY_SOURCE_ACCESS_DENIED',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** True when `err` should be retried: anything that is not known to be permanent. */
export function isRetryable(err: unknown): boolean {
  return !(err instanceof RelayError) || err.retryable;
}

/** The stable code of `err`, or `RELAY_UNKNOWN` for errors s3relay did not classify. */
export function errorCode(err: unknown): string {
  return err instanceof RelayError ? err.code : 'RELAY_UNKNOWN';
}
