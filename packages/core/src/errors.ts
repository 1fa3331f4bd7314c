/**
 * Every error code s3relay raises on purpose, in one catalogue: what it means, what the operator
 * does about it, whether doing the same work later may succeed, and the HTTP status the ingress
 * answers when it ends a request. Codes are stable strings (`RELAY_<AREA>_<WHAT>`) that operators
 * grep for and that parked tasks carry in `x-s3relay-error-code`; the README's error table is
 * generated from this one (`npm run readme`, kept equal by test/unit/readme.test.ts).
 *
 * Adding a code is adding an entry here; the constructors below accept nothing else
 * (docs/ARCHITECTURE.md, "Adding an error code").
 */

/** One catalogued error code. */
export interface ErrorSpec {
  /**
   * True when the same work may succeed later: the worker retries it through the delay tiers
   * (a permanent one is parked at once) and the ingress answers 503, which every sender retries.
   */
  readonly retryable: boolean;
  /**
   * The ingress's answer when this error ends a request. Absent: the code is never an answer of
   * its own (see {@link httpStatusOf} for what happens if it reaches the ingress anyway).
   */
  readonly httpStatus?: 400 | 401 | 403 | 404 | 405 | 413 | 415 | 500 | 503;
  /** One line: what happened. */
  readonly meaning: string;
  /** One line: what the operator does about it. */
  readonly action: string;
}

export const ERROR_CATALOGUE = {
  RELAY_CONFIG_INVALID: {
    retryable: false,
    meaning:
      'An environment variable or flag has an invalid value (the message lists every one), or `ACTION_SCRIPT` is not executable.',
    action:
      'Fix what the message names (`s3relay config` validates and prints the effective configuration), then start again.',
  },
  RELAY_AMQP_UNAVAILABLE: {
    retryable: true,
    httpStatus: 503,
    meaning:
      'Not connected to RabbitMQ, or the connection or channel closed before the broker confirmed a message.',
    action:
      'Check that RabbitMQ answers at `AMQP_URL`; s3relay reconnects by itself and senders retry the 503.',
  },
  RELAY_AMQP_ACCESS_REFUSED: {
    retryable: false,
    meaning:
      'RabbitMQ refused the user of `AMQP_URL`: a wrong user name or password, a virtual host that does not exist or that the user may not use, or a missing permission.',
    action:
      'Fix the user, password or vhost in `AMQP_URL`, or grant the user permissions on the vhost (`rabbitmqctl set_permissions`); services exit with code 3 instead of retrying.',
  },
  RELAY_AMQP_BLOCKED: {
    retryable: true,
    httpStatus: 503,
    meaning: 'RabbitMQ blocks publishing: a memory or disk alarm is on.',
    action:
      'Free memory or disk on the broker (`rabbitmq-diagnostics alarms`); publishing resumes when the alarm clears.',
  },
  RELAY_AMQP_PUBLISH_TIMEOUT: {
    retryable: true,
    httpStatus: 503,
    meaning: 'The broker did not confirm a message within `PUBLISH_TIMEOUT_MS`.',
    action:
      "Look at the broker's load and disk; raise `PUBLISH_TIMEOUT_MS` only when confirms are slow but do arrive.",
  },
  RELAY_AMQP_NACKED: {
    retryable: true,
    httpStatus: 503,
    meaning: 'The broker refused a message (nack), for example a queue that rejects publishes.',
    action: "Read the broker's log and the queue's limits; the sender retries.",
  },
  RELAY_AMQP_UNROUTABLE: {
    retryable: true,
    httpStatus: 503,
    meaning: 'The broker returned a message: its queue does not exist (deleted while running).',
    action:
      'Restart the process (it declares the queues on connect), or check that every process has the same `AMQP_PREFIX`.',
  },
  RELAY_AMQP_OVERLOADED: {
    retryable: true,
    httpStatus: 503,
    meaning:
      'Publishing this request now would put more records in flight (awaiting their broker confirm) than `HTTP_MAX_IN_FLIGHT` allows.',
    action: 'Add ingress replicas or raise `HTTP_MAX_IN_FLIGHT`; senders retry the 503.',
  },
  RELAY_AMQP_TOPOLOGY_MISMATCH: {
    retryable: false,
    meaning:
      'A queue exists with other arguments than this process declares (`AMQP_DELIVERY_LIMIT`, `RETRY_DELAYS`); it cannot start.',
    action:
      'Give every process the same `AMQP_DELIVERY_LIMIT` and `RETRY_DELAYS`, or drain and delete the queue, or use another `AMQP_PREFIX`.',
  },
  RELAY_TASK_INVALID: {
    retryable: false,
    meaning:
      'A message in the tasks queue is not a valid task (not JSON, a missing or wrong field); parked at once.',
    action:
      'Find who published it (not s3relay); `s3relay dlq list` shows it, `s3relay dlq purge` removes it.',
  },
  RELAY_TASK_DELIVERY_LIMIT: {
    retryable: false,
    meaning:
      'RabbitMQ parked the task after `AMQP_DELIVERY_LIMIT` + 1 deliveries: its worker crashed or was killed under it every time.',
    action:
      "Look for worker crashes or OOM kills at the task's key, then `s3relay dlq replay --error-code RELAY_TASK_DELIVERY_LIMIT`.",
  },
  RELAY_TASK_BUCKET_NOT_ALLOWED: {
    retryable: false,
    meaning:
      'A task names a source bucket outside `SOURCE_BUCKETS`; the worker parked it without running it (it could have overwritten or deleted the backup of another bucket).',
    action:
      'Find who published it (another deployment on the same `AMQP_PREFIX`, a forged message); add the bucket to `SOURCE_BUCKETS` and replay only if it is yours.',
  },
  RELAY_S3_ACCESS_DENIED: {
    retryable: false,
    meaning: 'S3 refused the request (AccessDenied): the credentials lack a permission.',
    action:
      'Grant s3:GetObject and s3:ListBucket on the source (the delete proof, resync and verify list it) and PutObject, DeleteObject and the multipart calls on the backup, then `s3relay dlq replay`.',
  },
  RELAY_S3_INVALID_CREDENTIALS: {
    retryable: false,
    meaning: 'S3 does not accept the access key or the signature.',
    action: 'Fix `SOURCE_S3_*` / `DEST_S3_*` keys and region, then `s3relay dlq replay`.',
  },
  RELAY_S3_NO_SUCH_BUCKET: {
    retryable: false,
    meaning: 'The bucket does not exist on that endpoint.',
    action:
      'Check `DEST_BUCKET` (and its `{bucket}` expansion), the endpoint and the region; create the bucket, then replay.',
  },
  RELAY_S3_CLIENT_ERROR: {
    retryable: false,
    meaning:
      "S3 refused the request with a 4xx that would be the same next time (the message has S3's own code).",
    action: 'Fix what S3 names (metadata too large, an invalid key, …), then replay or purge.',
  },
  RELAY_S3_RETRYABLE_CLIENT_ERROR: {
    retryable: true,
    meaning:
      'S3 answered a 4xx that a later attempt can pass: throttling (SlowDown), a timeout, clock skew, or an object or upload that changed under the copy.',
    action:
      'Nothing while it passes; when tasks are parked with it, lower `WORKER_CONCURRENCY` or check the clock, then replay.',
  },
  RELAY_S3_SERVER_ERROR: {
    retryable: true,
    meaning: 'S3 answered 5xx.',
    action: "Retried by itself; when parked, check the provider's status, then replay.",
  },
  RELAY_S3_NETWORK: {
    retryable: true,
    meaning: 'The connection to S3 failed or was cut (refused, reset, timed out, DNS).',
    action: 'Check the endpoint URL and the network path to it; retried by itself.',
  },
  RELAY_S3_UNEXPECTED: {
    retryable: true,
    meaning:
      'An S3 call failed in a way s3relay does not recognise; retried, parked after `MAX_ATTEMPTS`.',
    action: "Read the message and the worker log's `cause`; report it when it recurs.",
  },
  RELAY_SOURCE_NOT_S3: {
    retryable: true,
    meaning:
      "The source answered a 404 without S3's error code (an HTML page, an empty body) or a listing that is not S3's: nothing proves the object gone, so nothing was deleted.",
    action:
      'Point `SOURCE_S3_ENDPOINT` at S3, not at a web server, proxy or CDN; then `s3relay dlq replay --error-code RELAY_SOURCE_NOT_S3`.',
  },
  RELAY_SOURCE_NO_SUCH_BUCKET: {
    retryable: true,
    meaning:
      'The source answered NoSuchBucket: the source bucket is not proven to exist, so nothing was deleted.',
    action:
      'Check the bucket name, `SOURCE_S3_ENDPOINT` and the account of `SOURCE_S3_ACCESS_KEY_ID`; then replay.',
  },
  RELAY_SOURCE_ACCESS_DENIED: {
    retryable: true,
    meaning:
      'The source answered 403 (without s3:ListBucket S3 answers a missing key with 403): nothing proves the object gone, so nothing was deleted.',
    action:
      'Give the source credentials s3:GetObject and s3:ListBucket; then `s3relay dlq replay --error-code RELAY_SOURCE_ACCESS_DENIED`.',
  },
  RELAY_SOURCE_REAPPEARED: {
    retryable: true,
    meaning:
      "The source object was gone, but it was there again when the delete's grant came (the grant was slow): the backup was not deleted, and the task is retried, which copies it.",
    action:
      "Nothing, unless it recurs often: then RabbitMQ confirms the delete ledger's grants slowly; check the broker's health.",
  },
  RELAY_DELETE_LIMIT_REACHED: {
    retryable: true,
    meaning:
      'The workers together reached `DELETE_LIMIT` (the delete breaker tripped): further backup deletes are not executed but held in `<prefix>.held` with this code, until an operator decides.',
    action:
      'Look at them with `s3relay held list`: a wrong endpoint, an emptied bucket or a burst you did not expect? `s3relay held release` runs them again (each still checks the source, within the limit), `s3relay held drop` forgets them.',
  },
  RELAY_COPY_LENGTH_MISMATCH: {
    retryable: true,
    meaning: 'The source body ended with another number of bytes than its Content-Length.',
    action: 'Retried by itself; when parked, look for a proxy that truncates bodies.',
  },
  RELAY_COPY_STALLED: {
    retryable: true,
    meaning: 'The source body sent nothing for `SOURCE_IDLE_TIMEOUT_MS` while the copy waited.',
    action: 'Check the source endpoint; raise `SOURCE_IDLE_TIMEOUT_MS` for slow sources.',
  },
  RELAY_COPY_KEY_TOO_LONG: {
    retryable: false,
    meaning: '`DEST_PREFIX` plus the key is longer than the 1024 bytes S3 allows.',
    action: 'Shorten `DEST_PREFIX`; this key cannot be backed up under it.',
  },
  RELAY_SCRIPT_FAILED: {
    retryable: true,
    meaning: '`ACTION_SCRIPT` exited non-zero or could not be started.',
    action: "Read the script's output in the message, fix the script, then replay.",
  },
  RELAY_SCRIPT_NUL_IN_TASK: {
    retryable: false,
    meaning:
      "A task for `ACTION=script` has a NUL character in its key (or another field the script gets), which no program's arguments or environment can carry: the script can never run for it. Parked at once, nothing run.",
    action:
      'Copy or delete that object by other means (`ACTION=replicate` handles such keys), then `s3relay dlq drop --id <task id>`.',
  },
  RELAY_SCRIPT_TIMEOUT: {
    retryable: true,
    meaning: '`ACTION_SCRIPT` ran longer than `ACTION_SCRIPT_TIMEOUT_MS` and was killed.',
    action: 'Make the script faster or raise `ACTION_SCRIPT_TIMEOUT_MS`.',
  },
  RELAY_SHUTDOWN: {
    retryable: true,
    httpStatus: 503,
    meaning:
      'The process is shutting down: the ingress refuses new webhooks, the worker requeues what it interrupted.',
    action: 'Nothing: senders retry on another replica and the task runs again.',
  },
  RELAY_HTTP_NOT_FOUND: {
    retryable: false,
    httpStatus: 404,
    meaning: 'No such route, or `/webhook/<source>` names no source s3relay knows.',
    action: 'Register `/webhook` or `/webhook/<mcs|sns|minio|ceph|s3>` (with `/<token>` if used).',
  },
  RELAY_HTTP_METHOD_NOT_ALLOWED: {
    retryable: false,
    httpStatus: 405,
    meaning: "Webhooks are POSTed (HEAD answers MinIO's probe).",
    action: 'Configure the sender to POST.',
  },
  RELAY_HTTP_BAD_REQUEST: {
    retryable: false,
    httpStatus: 400,
    meaning: 'The request could not be read (aborted, or malformed framing).',
    action: 'Check the sender, or the proxy in front of the ingress.',
  },
  RELAY_HTTP_UNSUPPORTED_ENCODING: {
    retryable: false,
    httpStatus: 415,
    meaning: 'The body has a Content-Encoding the ingress cannot decode.',
    action: 'Send the body plain or as gzip, deflate or br.',
  },
  RELAY_HTTP_INTERNAL: {
    retryable: false,
    httpStatus: 500,
    meaning:
      'An unexpected failure while answering; the details are in the log, not in the answer.',
    action: "Find the request's `X-Request-Id` in the ingress log and report it.",
  },
  RELAY_WEBHOOK_UNAUTHORIZED: {
    retryable: false,
    httpStatus: 401,
    meaning: '`WEBHOOK_TOKEN` is set and the request carried no matching token.',
    action:
      "Put the token in the registered URL (`/webhook/<source>/<token>` or `?token=`) or in the sender's Authorization header.",
  },
  RELAY_WEBHOOK_FORBIDDEN: {
    retryable: false,
    httpStatus: 403,
    meaning: 'The client address is not in `ALLOWED_IPS`.',
    action: "Add the sender's addresses to `ALLOWED_IPS` (behind a reverse proxy: `TRUST_PROXY`).",
  },
  RELAY_WEBHOOK_TOO_LARGE: {
    retryable: false,
    httpStatus: 413,
    meaning: 'The body is larger than `HTTP_BODY_LIMIT`.',
    action: 'Raise `HTTP_BODY_LIMIT`.',
  },
  RELAY_WEBHOOK_TOO_MANY_RECORDS: {
    retryable: false,
    httpStatus: 413,
    meaning:
      'The request has more records than `HTTP_MAX_IN_FLIGHT`, the most the ingress publishes at once: it could never be accepted, so it is refused for good rather than answered 503 for the sender to retry forever. Nothing of it was published.',
    action:
      'Raise `HTTP_MAX_IN_FLIGHT` above the largest batch the source sends, or have it send smaller batches.',
  },
  RELAY_WEBHOOK_TOO_MANY_TOKENS: {
    retryable: false,
    httpStatus: 400,
    meaning:
      'The request carries more token candidates (Authorization, path segment, `token` query parameters) than any sender sends: someone is guessing `WEBHOOK_TOKEN`.',
    action: 'None for a stranger; a sender of yours should carry the token once.',
  },
  RELAY_WEBHOOK_BUCKET_NOT_ALLOWED: {
    retryable: false,
    httpStatus: 403,
    meaning:
      'A record names a bucket that is not in `SOURCE_BUCKETS`; nothing of the request was published.',
    action: 'Add the bucket to `SOURCE_BUCKETS`, or remove the webhook from that bucket.',
  },
  RELAY_WEBHOOK_MALFORMED_JSON: {
    retryable: false,
    httpStatus: 400,
    meaning: 'The body is not UTF-8 JSON.',
    action: 'Check what the sender posts (and any proxy that rewrites bodies).',
  },
  RELAY_WEBHOOK_TOO_DEEP: {
    retryable: false,
    httpStatus: 400,
    meaning:
      'The body nests arrays or objects deeper than any webhook does (64 levels); refused before parsing, which would take the CPU for seconds.',
    action: 'None for a stranger; otherwise check what the sender posts.',
  },
  RELAY_WEBHOOK_INVALID_BODY: {
    retryable: false,
    httpStatus: 400,
    meaning:
      'The body is JSON but not a valid webhook of its source (the message names the field or record).',
    action:
      'Check that the route names the right source (`/webhook/<source>`) and what the sender posts.',
  },
  RELAY_WEBHOOK_INVALID_BUCKET: {
    retryable: false,
    httpStatus: 400,
    meaning:
      "A record's bucket is not an S3 bucket name (3-255 letters, digits, `.`, `-`, `_`, a letter or digit first and last, no `..`, not an IP address); nothing of the request was published.",
    action:
      'None for a forged event (the name could have reached `ACTION_SCRIPT` as an option); otherwise check what the sender posts.',
  },
  RELAY_WEBHOOK_UNKNOWN_SOURCE: {
    retryable: false,
    httpStatus: 400,
    meaning: 'A body posted to `/webhook` is none of the webhooks s3relay knows.',
    action: 'Post to `/webhook/<source>`, or check what the sender posts.',
  },
  RELAY_WEBHOOK_UNSUPPORTED: {
    retryable: false,
    httpStatus: 400,
    meaning: 'SNS raw message delivery: a bare S3 body that carries no signature.',
    action: 'Turn RawMessageDelivery off on the SNS subscription.',
  },
  RELAY_SNS_CERT_URL_INVALID: {
    retryable: false,
    httpStatus: 403,
    meaning: 'The SigningCertURL is not an https `.pem` on an SNS host: not a message from AWS.',
    action: 'None for forged messages; otherwise check that the sender is AWS SNS.',
  },
  RELAY_SNS_CERT_INVALID: {
    retryable: false,
    httpStatus: 403,
    meaning: 'The SNS signing certificate cannot be read or is not valid now.',
    action: "Check the ingress's clock; none for forged messages.",
  },
  RELAY_SNS_CERT_UNAVAILABLE: {
    retryable: true,
    httpStatus: 503,
    meaning: 'The SNS signing certificate could not be fetched.',
    action: 'Let the ingress reach `sns.<region>.amazonaws.com` over HTTPS; SNS retries.',
  },
  RELAY_SNS_SIGNATURE_INVALID: {
    retryable: false,
    httpStatus: 403,
    meaning: 'The SNS signature does not verify: the message was forged or altered.',
    action: 'None for forged messages; otherwise look for a proxy that rewrites bodies.',
  },
  RELAY_SNS_TOPIC_NOT_ALLOWED: {
    retryable: false,
    httpStatus: 403,
    meaning:
      'The SNS topic is not in `SNS_TOPIC_ARNS`, or `SNS_TOPIC_ARNS` is empty (SNS is then refused, unless `SNS_ALLOW_ANY_TOPIC`).',
    action: 'Add the topic ARN to `SNS_TOPIC_ARNS`, or unsubscribe the ingress from that topic.',
  },
  RELAY_SNS_REPLAY: {
    retryable: false,
    httpStatus: 403,
    meaning: 'The SNS Timestamp is outside `SNS_MAX_AGE` (or not a date): a replay, or clock skew.',
    action: "Check the ingress's clock; raise `SNS_MAX_AGE` if SNS's retries arrive later.",
  },
  RELAY_SNS_SUBSCRIBE_URL_INVALID: {
    retryable: false,
    httpStatus: 403,
    meaning:
      "The SubscribeURL is not a ConfirmSubscription call for the message's topic on an SNS host.",
    action: 'None for forged messages; subscribe again from AWS otherwise.',
  },
  RELAY_SNS_CONFIRM_FAILED: {
    retryable: true,
    httpStatus: 503,
    meaning: 'Visiting the SubscribeURL of an SNS subscription confirmation failed.',
    action: 'Let the ingress reach SNS over HTTPS; SNS retries the confirmation.',
  },
} as const satisfies Readonly<Record<`RELAY_${string}`, ErrorSpec>>;

/** Every code s3relay raises. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

type CodesWhere<Retryable extends boolean> = {
  [C in ErrorCode]: (typeof ERROR_CATALOGUE)[C]['retryable'] extends Retryable ? C : never;
}[ErrorCode];

/** Codes of failures that retrying cannot fix. */
export type PermanentCode = CodesWhere<false>;
/** Codes of failures that may pass when the same work is done again later. */
export type TransientCode = CodesWhere<true>;

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

/** Base class of every error s3relay raises on purpose; its code decides everything else. */
export abstract class RelayError extends Error {
  readonly code: ErrorCode;
  /** True when doing the same work again later may succeed (from the catalogue). */
  readonly retryable: boolean;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, options: RelayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    // The types admit only catalogued codes; this catches a cast or a caller in plain JavaScript.
    const spec: ErrorSpec | undefined = ERROR_CATALOGUE[code];
    if (spec === undefined) throw new TypeError(`${String(code)} is not in the error catalogue`);
    this.code = code;
    this.retryable = spec.retryable;
    this.context = options.context ?? {};
  }
}

/** Thrown when retrying cannot help: the input or the permissions are wrong. */
export class PermanentError extends RelayError {
  override readonly name: string = 'PermanentError';
  declare readonly code: PermanentCode;

  constructor(code: PermanentCode, message: string, options?: RelayErrorOptions) {
    super(code, message, options);
  }
}

/** Thrown when the same work may succeed later: the network, the broker or S3 is having trouble. */
export class TransientError extends RelayError {
  override readonly name: string = 'TransientError';
  declare readonly code: TransientCode;

  constructor(code: TransientCode, message: string, options?: RelayErrorOptions) {
    super(code, message, options);
  }
}

/** Thrown by `loadConfig` when one or more environment variables are invalid; lists all of them. */
export class ConfigError extends PermanentError {
  override readonly name: string = 'ConfigError';
  constructor(message: string, options?: RelayErrorOptions) {
    super('RELAY_CONFIG_INVALID', message, options);
  }
}

/**
 * The HTTP status of a request that ends with `code`: the catalogue's, else 503 for a retryable
 * failure (every sender retries a 503; SNS drops a 4xx) and 500 for anything else.
 */
export function httpStatusOf(code: ErrorCode): number {
  const spec: ErrorSpec = ERROR_CATALOGUE[code];
  return spec.httpStatus ?? (spec.retryable ? 503 : 500);
}
