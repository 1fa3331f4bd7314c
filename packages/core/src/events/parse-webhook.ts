import { WEBHOOK_SOURCES, type Task, type WebhookSource } from '../task.js';
import { keyEncodingOf } from './decode-key.js';
import { bodyShape, detectRecordsSource } from './detect-source.js';
import { MAX_JSON_DEPTH, nestsDeeperThan } from './json-depth.js';
import { describeValue, hasField, isJsonObject, type JsonObject } from './json-object.js';
import { parseRecords, type RecordsOutcome } from './s3-records.js';
import { parseSnsEnvelope } from './sns-envelope.js';
import type {
  WebhookHeaders,
  WebhookInput,
  WebhookParseResult,
  WebhookRejection,
} from './types.js';
import { parseVkConfirmation } from './vk-confirmation.js';
import { Warnings } from './warnings.js';

// Fatal: a body that is not UTF-8 is refused rather than read with U+FFFD in place of the bad
// bytes, which would silently turn a key into another key. A leading BOM is dropped.
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a webhook request body into what it means: object-event tasks, a VK handshake to answer,
 * an SNS envelope (whose signature the ingress must verify before using it), or a typed refusal.
 * Pure and total: it never throws and never does I/O (given a valid `receivedAt`).
 *
 * How the body is understood:
 * - The body decides what kind of message it is, whatever the headers and the route say: a VK
 *   SubscriptionConfirmation is answered on any route, and an SNS envelope is always read as SNS
 *   (with a warning when the route named another source).
 * - For bare S3 event bodies (`{"Records":[…]}`) the route decides the source, and with it the
 *   key decoding (form decoding, except raw for Ceph) and the tasks' origin; a body that looks
 *   like another source is still read as the route says, with a warning. Without a route the
 *   source is detected from the body; when nothing names one, or parts disagree, the body is
 *   refused (`RELAY_WEBHOOK_UNKNOWN_SOURCE`).
 * - A bare S3 body that comes as SNS raw message delivery (the `sns` route, or the header
 *   `x-amz-sns-rawdelivery: true`) is refused (`RELAY_WEBHOOK_UNSUPPORTED`): it is unsigned.
 * - Taken whole or refused whole: one invalid record refuses the body, naming the record.
 *
 * Every refusal is a 400 (the error catalogue's status of each code). Senders do not tell 4xx
 * codes apart (SNS drops on any 4xx, MinIO retries any), so the `code` is what tells the reasons
 * apart in logs.
 */
export function parseWebhook(input: WebhookInput): WebhookParseResult {
  const route = input.source;
  // The route parameter is text from the URL; a caller that did not check it is caught here.
  if (route !== undefined && !WEBHOOK_SOURCES.includes(route)) {
    return reject('RELAY_WEBHOOK_UNKNOWN_SOURCE', `unknown webhook source ${describeValue(route)}`);
  }
  let text: string;
  try {
    text = UTF8.decode(input.body);
  } catch {
    return reject('RELAY_WEBHOOK_MALFORMED_JSON', 'the body is not UTF-8 text');
  }
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
    return reject(
      'RELAY_WEBHOOK_TOO_DEEP',
      `the body nests arrays or objects deeper than ${MAX_JSON_DEPTH} levels; no webhook does`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return reject('RELAY_WEBHOOK_MALFORMED_JSON', `the body is not JSON: ${why}`);
  }
  if (!isJsonObject(json)) {
    return reject('RELAY_WEBHOOK_INVALID_BODY', 'the body must be a JSON object');
  }

  const shape = bodyShape(json);
  switch (shape) {
    case 'vk-confirmation': {
      const outcome = parseVkConfirmation(json);
      return outcome.ok
        ? { type: 'vk-handshake', handshake: outcome.handshake }
        : reject('RELAY_WEBHOOK_INVALID_BODY', outcome.reason);
    }
    case 'sns-envelope':
      return snsEnvelope(json, route, input.receivedAt);
    case 's3-records':
    case 's3-test-event':
      if (route === 'sns' || isRawDelivery(input.headers)) {
        return reject(
          'RELAY_WEBHOOK_UNSUPPORTED',
          'a bare S3 event body on the sns route or with x-amz-sns-rawdelivery is SNS raw ' +
            'message delivery, which is unsigned; turn RawMessageDelivery off on the subscription',
        );
      }
      if (shape === 's3-test-event') {
        return { type: 'records', source: route ?? 's3', tasks: [], warnings: [] };
      }
      return s3Records(json, route, input.receivedAt);
    case 'unknown':
      if (route === 'sns') return snsEnvelope(json, route, input.receivedAt);
      return route === undefined
        ? reject(
            'RELAY_WEBHOOK_UNKNOWN_SOURCE',
            'cannot tell the source: the body is none of the webhooks this relay knows ' +
              '(VK Cloud, SNS, MinIO, Ceph, S3 records); post it to /webhook/<source>',
          )
        : reject('RELAY_WEBHOOK_INVALID_BODY', 'Records is missing: the body is not an S3 event');
  }
}

function s3Records(
  body: JsonObject,
  route: WebhookSource | undefined,
  receivedAt: Date,
): WebhookParseResult {
  const records = body.Records;
  if (!Array.isArray(records)) {
    return reject('RELAY_WEBHOOK_INVALID_BODY', 'Records must be an array');
  }
  const warnings = new Warnings();
  const detection = detectRecordsSource(body, records);
  let source: WebhookSource;
  if (route !== undefined) {
    source = route;
    if (detection.kind === 'detected' && detection.source !== route) {
      warnings.add(
        `the route says ${route} but the records look like ${detection.source}; read as ${route}`,
      );
    } else if (detection.kind === 'conflict') {
      warnings.add(`${detection.reason}; read as ${route}, as the route says`);
    }
  } else if (detection.kind === 'detected') {
    source = detection.source;
  } else if (detection.kind === 'none' && records.length === 0) {
    // Nothing to decode, so the source does not matter: report the plain S3 format.
    source = 's3';
  } else {
    const why = detection.kind === 'conflict' ? detection.reason : 'no record names its source';
    return reject(
      'RELAY_WEBHOOK_UNKNOWN_SOURCE',
      `cannot tell the source: ${why}; post it to /webhook/<source>`,
    );
  }

  const outcome = parseRecords(records, {
    origin: source,
    encoding: keyEncodingOf(source),
    receivedAt: receivedAt.toISOString(),
    warnings,
    path: 'Records',
  });
  if (!outcome.ok) return reject(outcome.code, outcome.reason);
  if (source === 'minio') checkMinioKey(body, outcome.tasks, warnings);
  return { type: 'records', source, tasks: outcome.tasks, warnings: warnings.list() };
}

/**
 * MinIO repeats the key, already decoded and prefixed with the bucket, in the top-level `Key`.
 * A difference means our decoding and MinIO's disagree; the record's key is kept (it is what the
 * record says) and the difference reported.
 */
function checkMinioKey(body: JsonObject, tasks: readonly Task[], warnings: Warnings): void {
  if (!hasField(body, 'Key')) return;
  const [task] = tasks;
  if (typeof body.Key !== 'string') warnings.add('the top-level Key is not a string');
  else if (tasks.length === 1 && task !== undefined && body.Key !== `${task.bucket}/${task.key}`) {
    warnings.add(
      `the decoded key ${describeValue(task.key)} does not match the top-level Key ` +
        `${describeValue(body.Key)} minus "${task.bucket}/"`,
    );
  }
}

function snsEnvelope(
  body: JsonObject,
  route: WebhookSource | undefined,
  receivedAt: Date,
): WebhookParseResult {
  const envelope = parseSnsEnvelope(body);
  if (!envelope.ok) return reject('RELAY_WEBHOOK_INVALID_BODY', envelope.reason);
  const message = envelope.message;
  const warnings = new Warnings();
  if (route !== undefined && route !== 'sns') {
    warnings.add(`the route says ${route} but the body is an SNS envelope; read as SNS`);
  }
  if (message.Type !== 'Notification') {
    return { type: 'sns', message, tasks: [], warnings: warnings.list() };
  }
  const outcome = notificationTasks(message.Message, receivedAt, warnings);
  if (!outcome.ok) return reject(outcome.code, outcome.reason);
  return { type: 'sns', message, tasks: outcome.tasks, warnings: warnings.list() };
}

/**
 * The tasks inside an SNS Notification, whose `Message` is the S3 event as a JSON string. A
 * Message that is not an S3 event (another publisher on the topic, or plain text) gives no tasks
 * and a warning: the ingress still answers 2xx, since SNS drops a message on 4xx just the same.
 */
function notificationTasks(text: string, receivedAt: Date, warnings: Warnings): RecordsOutcome {
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
    warnings.add(`the SNS Message nests deeper than ${MAX_JSON_DEPTH} levels, so not an S3 event`);
    return { ok: true, tasks: [] };
  }
  let content: unknown;
  try {
    content = JSON.parse(text);
  } catch {
    warnings.add('the SNS Message is not JSON, so not an S3 event; nothing to do');
    return { ok: true, tasks: [] };
  }
  const shape = isJsonObject(content) ? bodyShape(content) : 'unknown';
  if (!isJsonObject(content) || (shape !== 's3-records' && shape !== 's3-test-event')) {
    warnings.add('the SNS Message is not an S3 event; nothing to do');
    return { ok: true, tasks: [] };
  }
  if (shape === 's3-test-event') return { ok: true, tasks: [] };
  if (!Array.isArray(content.Records)) {
    return {
      ok: false,
      reason: 'Message.Records must be an array',
      code: 'RELAY_WEBHOOK_INVALID_BODY',
    };
  }
  return parseRecords(content.Records, {
    origin: 'sns',
    encoding: keyEncodingOf('sns'),
    receivedAt: receivedAt.toISOString(),
    warnings,
    path: 'Message.Records',
  });
}

/** SNS marks raw message delivery (the bare message, no envelope, no signature) with a header. */
function isRawDelivery(headers: WebhookHeaders): boolean {
  const value = headers['x-amz-sns-rawdelivery'];
  const values = typeof value === 'string' ? [value] : (value ?? []);
  return values.some((item) => item.trim().toLowerCase() === 'true');
}

function reject(code: WebhookRejection['code'], message: string): WebhookParseResult {
  return { type: 'rejected', rejection: { code, message } };
}
