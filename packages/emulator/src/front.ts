import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from '@s3relay/core';
import type { ObjectEventName } from './event-matching.js';
import type { HandshakeFailure } from './handshake.js';
import { parseDeleteObjectsKeys } from './multi-delete.js';
import {
  parseNotificationConfiguration,
  serializeNotificationConfiguration,
  type WebhookConfiguration,
} from './notification-config.js';
import {
  abortUpload,
  listMultipartUploadsXml,
  listOpenUploads,
  listUploadsQuery,
  uploadExists,
} from './multipart-uploads.js';
import { classifyRequest, type S3Operation } from './operations.js';
import { authenticate, checkPayloadEncoding } from './request-checks.js';
import { invalidArgument, s3ErrorXml, type S3ErrorReply } from './s3-error.js';
import { STORED_OBJECT_HEADER, type S3rverBackend, type StoredObject } from './s3rver-backend.js';
import { childElements, parseXmlRoot, textOf } from './xml.js';

/** An object change the front saw succeed, before it gets a sequencer and meets the webhooks. */
export interface ObservedChange {
  readonly eventName: ObjectEventName;
  readonly bucket: string;
  readonly key: string;
  readonly size?: number;
  readonly eTag?: string;
  readonly sourceIp: string;
  readonly requestId: string;
}

export interface FrontDependencies {
  readonly backend: S3rverBackend;
  readonly accessKeyId: string;
  readonly ownerId: string;
  /** The webhook configurations per bucket; the front replaces them on `PUT ?notification`. */
  readonly configurations: Map<string, readonly WebhookConfiguration[]>;
  /** Sends one SubscriptionConfirmation and checks its answer. */
  confirm(url: string, topicArn: string): Promise<HandshakeFailure>;
  /** Called before the client gets the answer of the operation that made the changes. */
  onChanges(changes: readonly ObservedChange[]): void;
  readonly logger: Logger;
}

/** The request handler of the front and the connections it holds to s3rver. */
export interface Front {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Closes the kept-alive connections to s3rver. */
  close(): void;
}

/** A notification configuration is a few hundred bytes; anything near this is not one. */
const MAX_CONFIGURATION_BYTES = 1024 * 1024;
/** 1000 keys of 1024 bytes, escaped, fit. */
const MAX_DELETE_BODY_BYTES = 8 * 1024 * 1024;
/** CopyObject and CompleteMultipartUpload results are a few hundred bytes. */
const MAX_RESULT_BYTES = 64 * 1024;

const INTERNAL_ERROR: S3ErrorReply = {
  status: 500,
  code: 'InternalError',
  message: 'We encountered an internal error. Please try again.',
};

const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'expect',
  'te',
  'trailer',
];

/**
 * The HTTP front of the emulator. It answers what s3rver lacks — `PUT`/`GET ?notification` with
 * VK's handshake, ListMultipartUploads and AbortMultipartUpload (from s3rver's own upload
 * directories, see multipart-uploads.ts) — and forwards everything else to s3rver (Host and
 * Authorization unchanged; see {@link copySourceForS3rver} for the one header it rewrites). For the operations that change objects it watches s3rver's answer
 * and reports each success through `onChanges` before passing the answer on, so an event is
 * queued by the time the client sees its request succeed.
 */
export function createFront(deps: FrontDependencies): Front {
  const agent = new http.Agent({ keepAlive: true });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomRequestId();
    res.setHeader('x-amz-request-id', requestId);
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const operation = classifyRequest(method, url, req.headers);
    // A browser form upload (POST Object) carries its credentials in the form's policy fields,
    // which s3rver does not check either; CORS preflights carry none.
    const unauthenticated = method === 'OPTIONS' || operation.kind === 'postObject';
    const refusal = unauthenticated
      ? undefined
      : (authenticate(req.headers, url, deps.accessKeyId) ?? checkPayloadEncoding(req.headers));
    if (refusal !== undefined) return sendError(req, res, refusal, requestId);

    switch (operation.kind) {
      case 'putNotification':
        return putNotification(req, res, operation.bucket, requestId);
      case 'getNotification':
        return getNotification(req, res, operation.bucket, requestId);
      case 'listMultipartUploads':
        return listMultipartUploads(req, res, operation.bucket, requestId);
      case 'abortMultipartUpload':
        req.resume();
        if (!(await abortUpload(deps.backend.directory, operation.bucket, operation.uploadId))) {
          return sendError(req, res, noSuchUpload(operation.uploadId), requestId);
        }
        res.writeHead(204).end();
        return;
      case 'uploadPart':
      case 'completeMultipartUpload':
        // s3rver would take parts of an aborted or unknown upload (and answer 500 on completing).
        if (!(await uploadExists(deps.backend.directory, operation.bucket, operation.uploadId))) {
          return sendError(req, res, noSuchUpload(operation.uploadId), requestId);
        }
        return forward(req, res, operation, requestId);
      case 'putObject':
      case 'copyObject':
      case 'deleteObject':
      case 'deleteObjects':
      case 'postObject':
      case 'deleteBucket':
      case 'other':
        return forward(req, res, operation, requestId);
    }
  }

  async function putNotification(
    req: IncomingMessage,
    res: ServerResponse,
    bucket: string,
    requestId: string,
  ): Promise<void> {
    if (!(await deps.backend.bucketExists(bucket))) {
      return sendError(req, res, noSuchBucket(bucket), requestId);
    }
    const body = await readBody(req, MAX_CONFIGURATION_BYTES);
    if (body === undefined) {
      return sendError(
        req,
        res,
        { status: 400, code: 'MaxMessageLengthExceeded', message: 'Your request was too big.' },
        requestId,
      );
    }
    const parsed = parseNotificationConfiguration(body.toString('utf8'), () => randomUUID());
    if (!parsed.ok) return sendError(req, res, parsed.error, requestId);

    // VK validates the URL while the PUT runs and stores nothing unless every handshake passes.
    const handshakes = parsed.value.flatMap((configuration) =>
      configuration.events.map(async (event) => {
        const failure = await deps.confirm(configuration.url, `${deps.ownerId}|${bucket}|${event}`);
        return failure === undefined ? undefined : { configuration, event, failure };
      }),
    );
    const failures = (await Promise.all(handshakes)).filter((result) => result !== undefined);
    const first = failures[0];
    if (first !== undefined) {
      const described = failures
        .map(({ configuration, event, failure }) => `${configuration.url} (${event}): ${failure}`)
        .join('; ');
      deps.logger.warn('webhook registration refused', { bucket, failures: described });
      return sendError(
        req,
        res,
        invalidArgument(
          `Unable to validate the following destination configurations: ${described}`,
          first.configuration.url,
          first.failure,
        ),
        requestId,
      );
    }
    if (parsed.value.length === 0) deps.configurations.delete(bucket);
    else deps.configurations.set(bucket, parsed.value);
    deps.logger.info('webhooks registered', {
      bucket,
      webhooks: parsed.value.map(({ id, url, events }) => ({ id, url, events })),
    });
    res.writeHead(200, { 'content-length': 0 }).end();
  }

  async function listMultipartUploads(
    req: IncomingMessage,
    res: ServerResponse,
    bucket: string,
    requestId: string,
  ): Promise<void> {
    req.resume();
    if (!(await deps.backend.bucketExists(bucket))) {
      return sendError(req, res, noSuchBucket(bucket), requestId);
    }
    const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
    const uploads = await listOpenUploads(deps.backend.directory, bucket);
    sendXml(res, 200, listMultipartUploadsXml(bucket, uploads, listUploadsQuery(query)));
  }

  async function getNotification(
    req: IncomingMessage,
    res: ServerResponse,
    bucket: string,
    requestId: string,
  ): Promise<void> {
    req.resume();
    if (!(await deps.backend.bucketExists(bucket))) {
      return sendError(req, res, noSuchBucket(bucket), requestId);
    }
    sendXml(res, 200, serializeNotificationConfiguration(deps.configurations.get(bucket) ?? []));
  }

  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    operation: S3Operation,
    requestId: string,
  ): void {
    const headers = withoutHopByHop(req.headers);
    const copySource = req.headers['x-amz-copy-source'];
    if (typeof copySource === 'string') {
      headers['x-amz-copy-source'] = copySourceForS3rver(copySource);
    }
    const upstream = http.request({
      host: '127.0.0.1',
      port: deps.backend.port,
      method: req.method,
      path: req.url,
      headers,
      agent,
    });
    const requestBody =
      operation.kind === 'deleteObjects' ? capture(req, MAX_DELETE_BODY_BYTES) : undefined;
    req.pipe(upstream);
    // A client that breaks off its upload: break off s3rver's request too, not leave it waiting.
    req.on('error', (err) => upstream.destroy(err));
    res.once('close', () => {
      // A client that went away mid-request takes its s3rver request with it.
      if (!res.writableFinished) upstream.destroy();
    });
    let failed = false;
    upstream.on('error', (err) => {
      // A destroyed request can report more than one error; answer the first.
      if (failed) return;
      failed = true;
      req.unpipe(upstream);
      if (res.writableEnded) return;
      deps.logger.warn('s3rver request failed', { method: req.method, url: req.url, error: err });
      if (res.headersSent) res.destroy();
      else sendError(req, res, INTERNAL_ERROR, requestId);
    });
    upstream.once('response', (answer) => {
      const status = answer.statusCode ?? 500;
      const stored = parseStoredObject(answer.headers[STORED_OBJECT_HEADER]);
      const answerHeaders = withoutHopByHop(answer.headers);
      delete answerHeaders[STORED_OBJECT_HEADER];
      res.writeHead(status, answerHeaders);
      const watched = status >= 200 && status <= 299 && isWatched(operation);
      if (!watched) {
        // The status and headers go out now, as S3 sends them, not with the first body byte: a
        // GET racing an overwrite of its key can get no body bytes from s3rver at all (it
        // rewrites objects in place), and its client would otherwise wait for the headers
        // until its request timeout instead of noticing a stalled body. Watched operations keep
        // theirs until the events are queued (see `idle()`).
        res.flushHeaders();
        answer.pipe(res);
        return;
      }
      const responseBody = capture(answer, MAX_RESULT_BYTES);
      answer.on('data', (chunk: Buffer) => res.write(chunk));
      answer.once('end', () => {
        try {
          const changes = observe(operation, {
            requestId,
            sourceIp: sourceIp(req),
            etagHeader: answer.headers.etag,
            stored,
            requestBody: requestBody?.(),
            responseBody: responseBody(),
          });
          if (changes.length > 0) deps.onChanges(changes);
        } catch (err: unknown) {
          deps.logger.error('could not turn an S3 operation into events', {
            error: err,
            url: req.url,
          });
        }
        res.end();
      });
      answer.on('error', () => res.destroy());
    });
  }

  interface Observation {
    readonly requestId: string;
    readonly sourceIp: string;
    readonly etagHeader: string | undefined;
    readonly stored: StoredObject | undefined;
    readonly requestBody: Buffer | undefined;
    readonly responseBody: Buffer | undefined;
  }

  function observe(operation: S3Operation, seen: Observation): ObservedChange[] {
    const { stored } = seen;
    const base = { sourceIp: seen.sourceIp, requestId: seen.requestId };
    const size = stored?.size === undefined ? {} : { size: stored.size };
    switch (operation.kind) {
      case 'putObject':
        return [
          {
            ...base,
            ...size,
            ...eTag(seen.etagHeader ?? stored?.eTag),
            eventName: 'ObjectCreated:Put',
            bucket: operation.bucket,
            key: operation.key,
          },
        ];
      case 'copyObject':
        return [
          {
            ...base,
            ...size,
            ...eTag(resultETag(seen.responseBody, 'CopyObjectResult') ?? stored?.eTag),
            eventName: 'ObjectCreated:Copy',
            bucket: operation.bucket,
            key: operation.key,
          },
        ];
      case 'completeMultipartUpload': {
        // S3 may answer 200 and put the error in the body.
        const etag = resultETag(seen.responseBody, 'CompleteMultipartUploadResult');
        if (etag === undefined) return [];
        return [
          {
            ...base,
            ...size,
            ...eTag(etag),
            eventName: 'ObjectCreated:CompleteMultipartUpload',
            bucket: operation.bucket,
            key: operation.key,
          },
        ];
      }
      case 'postObject':
        // The key is in the form body; s3rver read it.
        if (stored === undefined) return [];
        return [
          {
            ...base,
            ...size,
            ...eTag(stored.eTag),
            eventName: 'ObjectCreated:Post',
            bucket: operation.bucket,
            key: stored.key,
          },
        ];
      case 'deleteObject':
        return [
          {
            ...base,
            eventName: 'ObjectRemoved:Delete',
            bucket: operation.bucket,
            key: operation.key,
          },
        ];
      case 'deleteObjects': {
        const parsed = parseDeleteObjectsKeys(seen.requestBody?.toString('utf8') ?? '');
        if (!parsed.ok) return [];
        return parsed.value.map((key) => ({
          ...base,
          eventName: 'ObjectRemoved:Delete',
          bucket: operation.bucket,
          key,
        }));
      }
      case 'deleteBucket':
        deps.configurations.delete(operation.bucket);
        return [];
      case 'putNotification':
      case 'getNotification':
      case 'listMultipartUploads':
      case 'abortMultipartUpload':
      case 'uploadPart':
      case 'other':
        return [];
    }
  }

  return {
    handle(req, res) {
      handle(req, res).catch((err: unknown) => {
        deps.logger.error('emulator request failed', {
          error: err,
          method: req.method,
          url: req.url,
        });
        if (res.headersSent) res.destroy();
        else sendError(req, res, INTERNAL_ERROR, 'internal');
      });
    },
    close: () => agent.destroy(),
  };
}

/**
 * s3rver reads `x-amz-copy-source` with `decodeURI`, which leaves `%2B`, `%2F`, `%3F`… encoded,
 * so a copy from a key with `+` (or from an SDK that encodes `/`) finds no source. S3 decodes
 * the whole value; re-encode it so that s3rver's `decodeURI` yields the same key. A
 * `?versionId=` suffix is dropped (s3rver has no versions).
 */
export function copySourceForS3rver(value: string): string {
  const queryStart = value.indexOf('?');
  const path = queryStart === -1 ? value : value.slice(0, queryStart);
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    // Not valid percent-encoding: S3 would refuse it; let s3rver answer.
  }
  return encodeURI(decoded);
}

function parseStoredObject(header: string | string[] | undefined): StoredObject | undefined {
  if (typeof header !== 'string') return undefined;
  try {
    return JSON.parse(decodeURIComponent(header)) as StoredObject;
  } catch {
    return undefined;
  }
}

function isWatched(operation: S3Operation): boolean {
  return [
    'putObject',
    'copyObject',
    'completeMultipartUpload',
    'postObject',
    'deleteObject',
    'deleteObjects',
    'deleteBucket',
  ].includes(operation.kind);
}

function eTag(value: string | undefined): { eTag?: string } {
  return value === undefined ? {} : { eTag: value.replace(/"/g, '') };
}

/** The `<ETag>` of a `<CopyObjectResult>` or `<CompleteMultipartUploadResult>` answer. */
function resultETag(body: Buffer | undefined, rootName: string): string | undefined {
  const root = body === undefined ? undefined : parseXmlRoot(body.toString('utf8'));
  if (root?.localName !== rootName) return undefined;
  const element = childElements(root).find((child) => child.localName === 'ETag');
  return element === undefined ? undefined : textOf(element);
}

/** Collects a stream's bytes up to `limit` while it is consumed elsewhere; undefined past it. */
function capture(stream: NodeJS.ReadableStream, limit: number): () => Buffer | undefined {
  const chunks: Buffer[] = [];
  let length = 0;
  stream.on('data', (chunk: Buffer) => {
    length += chunk.length;
    if (length <= limit) chunks.push(chunk);
  });
  return () => (length <= limit ? Buffer.concat(chunks) : undefined);
}

/** Reads a whole request body, or undefined (the rest drained) when it exceeds `limit`. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    length += buffer.length;
    if (length <= limit) chunks.push(buffer);
  }
  return length <= limit ? Buffer.concat(chunks) : undefined;
}

function withoutHopByHop(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const copy: http.OutgoingHttpHeaders = { ...headers };
  for (const name of HOP_BY_HOP) delete copy[name];
  return copy;
}

function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  error: S3ErrorReply,
  requestId: string,
): void {
  req.resume();
  const resource = (req.url ?? '/').split('?')[0] ?? '/';
  sendXml(res, error.status, s3ErrorXml(error, resource, requestId));
}

/** Answers with an XML document, as S3 does its listings, configurations and errors. */
function sendXml(res: ServerResponse, status: number, xml: string): void {
  res.writeHead(status, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(xml),
  });
  res.end(xml);
}

function noSuchBucket(bucket: string): S3ErrorReply {
  return {
    status: 404,
    code: 'NoSuchBucket',
    message: 'The specified bucket does not exist',
    details: { BucketName: bucket },
  };
}

function noSuchUpload(uploadId: string): S3ErrorReply {
  return {
    status: 404,
    code: 'NoSuchUpload',
    message:
      'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    details: { UploadId: uploadId },
  };
}

function sourceIp(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

const REQUEST_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Eight letters and digits, like `VGJR5rtJ` in VK's example record. */
function randomRequestId(): string {
  let id = '';
  for (let i = 0; i < 8; i += 1)
    id += REQUEST_ID_ALPHABET[Math.floor(Math.random() * REQUEST_ID_ALPHABET.length)];
  return id;
}
