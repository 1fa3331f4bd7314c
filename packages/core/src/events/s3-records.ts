import { bucketNameProblem } from '../bucket-name.js';
import { MAX_KEY_BYTES, createTask, type Task, type WebhookSource } from '../task.js';
import { decodeKey, type KeyEncoding } from './decode-key.js';
import { describeValue as show, isJsonObject } from './json-object.js';
import type { Warnings } from './warnings.js';

/** How the records of one request are read. */
export interface RecordsContext {
  /** The tasks' origin. */
  readonly origin: WebhookSource;
  readonly encoding: KeyEncoding;
  /** ISO time the ingress received the request. */
  readonly receivedAt: string;
  readonly warnings: Warnings;
  /** Where the records sit in the body, for messages: `Records` or `Message.Records`. */
  readonly path: string;
}

/** Why a record is refused: a bucket name S3 would not have is told apart. */
export type RecordRejectionCode = 'RELAY_WEBHOOK_INVALID_BODY' | 'RELAY_WEBHOOK_INVALID_BUCKET';

/** All records as tasks, or why the body is refused (the first invalid record). */
export type RecordsOutcome =
  | { readonly ok: true; readonly tasks: readonly Task[] }
  | { readonly ok: false; readonly reason: string; readonly code: RecordRejectionCode };

// Limits of the task contract (TaskSchema) that a record's fields are held to.
const MAX_EVENT_NAME_LENGTH = 256;
const MAX_ETAG_LENGTH = 256;
const MAX_VERSION_ID_LENGTH = 1024;
const MAX_SEQUENCER_LENGTH = 256;
const MAX_EVENT_TIME_LENGTH = 64;

/** Up to 16 decimal digits: every such value below 2^53 is exact as a number. */
const DECIMAL_SIZE = /^[0-9]{1,16}$/;
/** A UTF-16 surrogate without its pair: no UTF-8 form exists, so no S3 key can contain one. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Turns S3-style event records into tasks, in order. A request is taken whole or refused whole:
 * a record without what a task needs to name an object (event name, bucket, key) refuses the
 * body. Fields that are only hints for the worker (size, eTag, versionId, sequencer, eventTime)
 * become `null` with a warning when they are unusable, because the worker reconciles against the
 * source anyway and losing the event would be worse. TestEvent records are skipped.
 */
export function parseRecords(records: readonly unknown[], context: RecordsContext): RecordsOutcome {
  const tasks: Task[] = [];
  for (let index = 0; index < records.length; index += 1) {
    const outcome = parseRecord(records[index], `${context.path}[${index}]`, context);
    if (outcome.kind === 'invalid')
      return { ok: false, reason: outcome.reason, code: outcome.code };
    if (outcome.kind === 'task') tasks.push(outcome.task);
  }
  return { ok: true, tasks };
}

type RecordOutcome =
  | { readonly kind: 'task'; readonly task: Task }
  | { readonly kind: 'test-event' }
  | { readonly kind: 'invalid'; readonly reason: string; readonly code: RecordRejectionCode };

function parseRecord(record: unknown, where: string, context: RecordsContext): RecordOutcome {
  const invalid = (why: string, code: RecordRejectionCode = 'RELAY_WEBHOOK_INVALID_BODY') =>
    ({ kind: 'invalid', reason: `${where}: ${why}`, code }) as const;
  if (!isJsonObject(record)) return invalid('not an object');
  if (typeof record.eventName !== 'string') return invalid('eventName is missing or not a string');
  const eventName = record.eventName.startsWith('s3:')
    ? record.eventName.slice('s3:'.length)
    : record.eventName;
  if (eventName === 'TestEvent') return { kind: 'test-event' };
  if (eventName === '') return invalid('eventName is empty');
  if (eventName.length > MAX_EVENT_NAME_LENGTH) {
    return invalid(`eventName is longer than ${MAX_EVENT_NAME_LENGTH} characters`);
  }

  const s3 = record.s3;
  if (!isJsonObject(s3)) return invalid('s3 is missing or not an object');
  const bucket = isJsonObject(s3.bucket) ? s3.bucket.name : undefined;
  if (typeof bucket !== 'string' || bucket === '') {
    return invalid('s3.bucket.name is missing, empty or not a string');
  }
  // Checked here, before the name reaches a task: an action script gets it as an argument.
  const bucketProblem = bucketNameProblem(bucket);
  if (bucketProblem !== undefined) {
    return invalid(
      `s3.bucket.name ${show(bucket)} is not an S3 bucket name: it ${bucketProblem}`,
      'RELAY_WEBHOOK_INVALID_BUCKET',
    );
  }
  const object = s3.object;
  if (!isJsonObject(object)) return invalid('s3.object is missing or not an object');
  if (typeof object.key !== 'string' || object.key === '') {
    return invalid('s3.object.key is missing, empty or not a string');
  }
  const decoded = decodeKey(object.key, context.encoding);
  if (decoded.malformed) {
    context.warnings.add(
      `${where}: key ${show(object.key)} has a malformed %-escape; kept as received`,
    );
  }
  const key = decoded.key;
  if (LONE_SURROGATE.test(key)) return invalid('s3.object.key is not valid Unicode');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    return invalid(`s3.object.key is longer than ${MAX_KEY_BYTES} bytes of UTF-8`);
  }

  const hint = new HintReader(where, context.warnings);
  const task = createTask({
    origin: context.origin,
    eventName,
    bucket,
    key,
    size: hint.size(object.size),
    eTag: hint.eTag(object.eTag),
    versionId: hint.versionId(object.versionId),
    sequencer: hint.sequencer(object.sequencer),
    eventTime: hint.string('eventTime', record.eventTime, MAX_EVENT_TIME_LENGTH),
    receivedAt: context.receivedAt,
  });
  return { kind: 'task', task };
}

/** Normalises the advisory fields of one record; an unusable value becomes null plus a warning. */
class HintReader {
  constructor(
    private readonly where: string,
    private readonly warnings: Warnings,
  ) {}

  /** A number or a decimal string, exact, a whole number of bytes; absent means unknown. */
  size(value: unknown): number | null {
    if (value === undefined || value === null) return null;
    const size =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && DECIMAL_SIZE.test(value)
          ? Number(value)
          : Number.NaN;
    if (Number.isSafeInteger(size) && size >= 0) return size;
    return this.unusable('size', value, 'is not a whole, non-negative, exact number of bytes');
  }

  /** Surrounding quotes are dropped: some senders copy the HTTP ETag header verbatim. */
  eTag(value: unknown): string | null {
    const eTag = this.string('eTag', value, Number.MAX_SAFE_INTEGER);
    if (eTag === null) return null;
    const unquoted =
      eTag.length >= 2 && eTag.startsWith('"') && eTag.endsWith('"') ? eTag.slice(1, -1) : eTag;
    if (unquoted === '') return null;
    if (unquoted.length > MAX_ETAG_LENGTH) {
      return this.unusable('eTag', value, `is longer than ${MAX_ETAG_LENGTH} characters`);
    }
    return unquoted;
  }

  /** `""` (Ceph, unversioned) and `"null"` (S3's name for the null version) mean no version. */
  versionId(value: unknown): string | null {
    const versionId = this.string('versionId', value, MAX_VERSION_ID_LENGTH);
    return versionId === 'null' ? null : versionId;
  }

  /** Kept opaque as a string; VK sends a JSON number, which is written in decimal. */
  sequencer(value: unknown): string | null {
    if (typeof value !== 'number') return this.string('sequencer', value, MAX_SEQUENCER_LENGTH);
    if (Number.isSafeInteger(value) && value >= 0) return String(value);
    return this.unusable('sequencer', value, 'is not a whole number that JSON carries exactly');
  }

  /** An optional string field; `""` counts as absent. */
  string(field: string, value: unknown, maxLength: number): string | null {
    if (value === undefined || value === null || value === '') return null;
    if (typeof value !== 'string') return this.unusable(field, value, 'is not a string');
    if (value.length > maxLength) {
      return this.unusable(field, value, `is longer than ${maxLength} characters`);
    }
    return value;
  }

  private unusable(field: string, value: unknown, why: string): null {
    this.warnings.add(`${this.where}: ${field} ${show(value)} ${why}; sent as null`);
    return null;
  }
}
