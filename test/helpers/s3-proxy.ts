import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { listMultipartUploadsXml, listUploadsQuery } from '@s3relay/emulator';

/** The S3 operations the proxy tells apart; everything else is `Other`. */
export type S3OperationName =
  | 'PutObject'
  | 'GetObject'
  | 'HeadObject'
  | 'DeleteObject'
  | 'DeleteObjects'
  | 'CreateMultipartUpload'
  | 'UploadPart'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'ListObjectsV2'
  | 'ListMultipartUploads'
  | 'CopyObject'
  | 'GetObjectTagging'
  | 'PutObjectTagging'
  | 'GetBucketVersioning'
  | 'Other';

/** One request seen by the proxy. */
export interface S3Operation {
  readonly op: S3OperationName;
  readonly method: string;
  /** '' for service-level requests (ListBuckets). */
  readonly bucket: string;
  /** Percent-decoded; absent for bucket-level requests. */
  readonly key?: string;
  readonly uploadId?: string;
  readonly partNumber?: number;
  /**
   * The status sent to the client: 0 while in flight and when no status was ever sent (reset,
   * stalled before headers).
   */
  readonly status: number;
  /** Epoch milliseconds at arrival. */
  readonly startedAt: number;
  /** Until the response ended or the connection closed; -1 while in flight. */
  readonly durationMs: number;
  /** The fault injected into this request, if any. */
  fault?: FaultAction['type'];
}

export type FaultAction =
  /** Answer with this status and an S3 XML error (`Code` defaults per status) without forwarding. */
  | { readonly type: 'status'; readonly status: 503 | 500 | 403 | 404; readonly code?: string }
  /** Forward, then close the connection after `afterBytes` bytes of the response body. */
  | { readonly type: 'cut-body'; readonly afterBytes: number }
  /** Reset the connection (TCP RST) as soon as the request arrives. */
  | { readonly type: 'reset' }
  /**
   * Answer as something that is not S3 would, without forwarding: `respond(url)` gives the
   * status, content type and body (a web server's 404 page, a stray JSON answer).
   */
  | {
      readonly type: 'respond';
      readonly respond: (url: string) => {
        readonly status: number;
        readonly contentType?: string;
        readonly body?: string;
      };
    }
  /**
   * Forward, then stop sending: after the headers and `afterBytes` bytes (default 0) of a
   * response that has a body, before the headers of one without. Resumes after `ms`; without it,
   * when {@link S3Proxy.release} lets it go (it counts as held meanwhile).
   */
  | { readonly type: 'stall'; readonly ms?: number; readonly afterBytes?: number }
  /**
   * Hold the request, unread and unanswered, until {@link S3Proxy.release} lets it go: a test
   * orders events by holding one request while it waits for another, never by sleeping.
   */
  | { readonly type: 'hold' };

/** A fault a held request can be released into (anything but another hold). */
export type ReleaseAction = Exclude<FaultAction, { type: 'hold' }>;

export interface FaultRule {
  /** The operation it applies to; `*` for all. */
  readonly op: S3OperationName | '*';
  /** Only requests for this key (exact, or matching the RegExp). */
  readonly key?: string | RegExp;
  /** Only requests for this bucket. */
  readonly bucket?: string;
  readonly action: FaultAction;
  /** Chance that a matching request is hit, 0..1. @default 1 */
  readonly probability?: number;
  /** How many requests it applies to; unlimited when absent. */
  readonly times?: number;
}

export interface MultipartUploadRecord {
  readonly bucket: string;
  readonly key: string;
  readonly uploadId: string;
  /**
   * When it was created; the emulated ListMultipartUploads reports it, so a test may backdate it
   * to make an upload old without waiting.
   */
  initiatedAt: Date;
  state: 'open' | 'completed' | 'aborted';
}

export interface S3Proxy {
  /** `http://127.0.0.1:<port>`: give this to the code under test instead of the server's. */
  readonly endpoint: string;
  /** Every request in order of arrival (live array; entries complete when answered). */
  readonly operations: S3Operation[];
  /** Adds a rule (rules are tried in order; the first that matches applies); returns a remover. */
  addFault(rule: FaultRule): () => void;
  clearFaults(): void;
  /** Multipart uploads created through the proxy and neither completed (2xx) nor aborted. */
  openMultipartUploads(): { bucket: string; key: string; uploadId: string }[];
  /** Every multipart upload created through the proxy, with its state. */
  readonly multipartUploads: readonly MultipartUploadRecord[];
  /** Drops the recorded operations (the multipart bookkeeping stays). */
  clearOperations(): void;
  /**
   * The requests held now, in order of arrival: by a `hold` rule, or stalled by a `stall` without
   * `ms`. A client that gave up leaves the list.
   */
  readonly held: readonly S3Operation[];
  /** Resolves once at least `count` requests are held at the same time. */
  whenHeld(count: number): Promise<readonly S3Operation[]>;
  /**
   * Lets a held request go on: forwarded as if never held, or answered with `action` instead; a
   * stalled answer resumes (`action` does not apply to it). Without `operation`, every one held.
   */
  release(operation?: S3Operation, action?: ReleaseAction): void;
  /** Stops listening and drops every connection, stalled ones included; idempotent. */
  close(): Promise<void>;
}

interface Held {
  readonly operation: S3Operation;
  resume(action: ReleaseAction | undefined): void;
}

interface ActiveRule {
  readonly rule: FaultRule;
  remaining: number;
}

const DEFAULT_ERROR_CODES: Record<503 | 500 | 403 | 404, string> = {
  503: 'SlowDown',
  500: 'InternalError',
  403: 'AccessDenied',
  404: 'NoSuchKey',
};

/**
 * An HTTP proxy in front of an S3 endpoint (path-style requests only) that records every S3
 * operation and injects faults by rule. It also implements what s3rver lacks, from what it saw:
 * AbortMultipartUpload (204, and later UploadPart or Complete of that upload get 404
 * NoSuchUpload, as on AWS) and ListMultipartUploads (S3 XML of the open uploads it saw created).
 * SigV4 stays valid through it: requests are forwarded with their Host header unchanged.
 */
export async function startS3Proxy(target: {
  endpoint: string;
  /**
   * Answer AbortMultipartUpload and ListMultipartUploads itself (s3rver lacks them); off for a
   * store that has them (Ceph), whose own answers are then under test. @default true
   */
  emulateMultipart?: boolean;
}): Promise<S3Proxy> {
  const emulateMultipart = target.emulateMultipart ?? true;
  const upstream = new URL(target.endpoint);
  const agent = new Agent({ keepAlive: true });
  const operations: S3Operation[] = [];
  const uploads = new Map<string, MultipartUploadRecord>();
  let rules: ActiveRule[] = [];
  let holds: Held[] = [];
  const heldWaiters = new Set<() => void>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  const pickFault = (operation: S3Operation): FaultAction | undefined => {
    for (const active of rules) {
      const { rule } = active;
      if (active.remaining <= 0) continue;
      if (rule.op !== '*' && rule.op !== operation.op) continue;
      if (rule.bucket !== undefined && rule.bucket !== operation.bucket) continue;
      if (rule.key !== undefined && !keyMatches(rule.key, operation.key)) continue;
      if (Math.random() >= (rule.probability ?? 1)) continue;
      active.remaining -= 1;
      return rule.action;
    }
    return undefined;
  };

  const server = createServer((req, res) => {
    const started = performance.now();
    let durationMs = -1;
    const operation: S3Operation = {
      ...classify(req),
      // What the client was sent so far: 0 until headers go out (and for resets).
      get status() {
        return res.headersSent ? res.statusCode : 0;
      },
      startedAt: Date.now(),
      get durationMs() {
        return durationMs;
      },
    };
    operations.push(operation);
    res.on('close', () => {
      durationMs = Math.round(performance.now() - started);
    });

    const fault = pickFault(operation);
    if (fault !== undefined) operation.fault = fault.type;
    if (fault?.type === 'hold') {
      hold(operation, res, (action) => {
        if (action !== undefined) operation.fault = action.type;
        answer(req, res, operation, action);
      });
      return;
    }
    answer(req, res, operation, fault);
  });

  /** Keeps a request or an answer waiting until {@link S3Proxy.release} resumes it. */
  const hold = (
    operation: S3Operation,
    res: ServerResponse,
    resume: (action: ReleaseAction | undefined) => void,
  ) => {
    const held: Held = { operation, resume };
    holds.push(held);
    res.on('close', () => {
      holds = holds.filter((candidate) => candidate !== held);
    });
    for (const waiter of [...heldWaiters]) waiter();
  };

  /** Goes on with a request: the fault's answer, the multipart emulation, or the upstream's. */
  const answer = (
    req: IncomingMessage,
    res: ServerResponse,
    operation: S3Operation,
    fault: ReleaseAction | undefined,
  ) => {
    if (fault?.type === 'reset') {
      req.socket.resetAndDestroy();
      return;
    }
    if (fault?.type === 'respond') {
      const { status, contentType, body = '' } = fault.respond(req.url ?? '');
      sendAfterBody(req, () => {
        res.writeHead(status, contentType === undefined ? {} : { 'content-type': contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
      });
      return;
    }
    if (fault?.type === 'status') {
      const code = fault.code ?? DEFAULT_ERROR_CODES[fault.status];
      sendAfterBody(req, () => sendError(req, res, fault.status, code, `Injected ${code}`));
      return;
    }
    if (emulateMultipart && answerMultipart(req, res, operation, uploads)) return;
    forward(req, res, operation, fault);
  };

  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    operation: S3Operation,
    fault: ReleaseAction | undefined,
  ) => {
    const headers = { ...req.headers };
    // `expect` is not signed; Node already answered the client's 100-continue.
    delete headers.expect;
    const outgoing = httpRequest({
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers,
      agent,
    });
    outgoing.on('error', () => {
      if (!res.headersSent) sendError(req, res, 502, 'InternalError', 'Upstream S3 unreachable');
      else res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) outgoing.destroy();
    });
    req.pipe(outgoing);
    outgoing.on('response', (incoming) => {
      incoming.on('error', () => res.destroy());
      const status = incoming.statusCode ?? 502;
      if (operation.op === 'CreateMultipartUpload' && isOk(status)) {
        // Read the upload id before passing the (small) answer on.
        void bufferBody(incoming).then(
          (body) => {
            const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(body.toString('utf8'))?.[1];
            if (uploadId !== undefined && operation.key !== undefined) {
              uploads.set(uploadId, {
                bucket: operation.bucket,
                key: operation.key,
                uploadId,
                initiatedAt: new Date(),
                state: 'open',
              });
            }
            relay(
              { status, rawHeaders: incoming.rawHeaders, body: Readable.from([body]) },
              req,
              res,
              fault,
              operation,
            );
          },
          () => res.destroy(),
        );
        return;
      }
      if (operation.op === 'CompleteMultipartUpload' && isOk(status)) {
        const upload =
          operation.uploadId === undefined ? undefined : uploads.get(operation.uploadId);
        if (upload !== undefined) upload.state = 'completed';
      }
      if (operation.op === 'AbortMultipartUpload' && isOk(status)) {
        const upload =
          operation.uploadId === undefined ? undefined : uploads.get(operation.uploadId);
        if (upload !== undefined) upload.state = 'aborted';
      }
      relay(
        { status, rawHeaders: incoming.rawHeaders, body: incoming },
        req,
        res,
        fault,
        operation,
      );
    });
  };

  /** Sends an upstream answer to the client, applying a `cut-body` or `stall` fault. */
  const relay = (
    upstreamAnswer: { status: number; rawHeaders: string[]; body: Readable },
    req: IncomingMessage,
    res: ServerResponse,
    fault: ReleaseAction | undefined,
    operation: S3Operation,
  ) => {
    const { status, rawHeaders, body } = upstreamAnswer;
    const lengthHeader = headerValue(rawHeaders, 'content-length');
    const hasBody =
      req.method !== 'HEAD' &&
      (lengthHeader !== undefined
        ? Number(lengthHeader) > 0
        : headerValue(rawHeaders, 'transfer-encoding') !== undefined);
    if (fault?.type !== 'cut-body' && fault?.type !== 'stall') {
      res.writeHead(status, rawHeaders);
      body.pipe(res);
      return;
    }
    if (fault.type === 'stall' && !hasBody) {
      // Nothing to hold back but the answer itself.
      body.pause();
      const send = () => {
        res.writeHead(status, rawHeaders);
        body.pipe(res);
      };
      if (fault.ms !== undefined) later(fault.ms, send);
      else hold(operation, res, send);
      return;
    }
    res.writeHead(status, rawHeaders);
    res.flushHeaders();
    const limit = fault.afterBytes ?? 0;
    let sent = 0;
    const stop = (rest: Buffer) => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.pause();
      if (rest.length > 0) body.unshift(rest);
      if (fault.type === 'cut-body') {
        // Let the bytes so far reach the client, then close the connection: the client sees a
        // body shorter than its Content-Length (a reset could discard the bytes in flight).
        res.write('', () => later(20, () => res.socket?.destroy()));
        body.destroy();
      } else if (fault.ms !== undefined) {
        later(fault.ms, () => body.pipe(res));
      } else {
        hold(operation, res, () => body.pipe(res));
      }
    };
    const onData = (chunk: Buffer) => {
      const room = limit - sent;
      if (chunk.length < room) {
        sent += chunk.length;
        res.write(chunk);
        return;
      }
      if (room > 0) res.write(chunk.subarray(0, room));
      sent = limit;
      stop(chunk.subarray(room));
    };
    const onEnd = () => res.end();
    if (limit <= 0) {
      stop(Buffer.alloc(0));
      return;
    }
    body.on('data', onData);
    body.on('end', onEnd);
  };

  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  let closing: Promise<void> | undefined;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    operations,
    addFault(rule) {
      const active: ActiveRule = { rule, remaining: rule.times ?? Number.POSITIVE_INFINITY };
      rules.push(active);
      return () => {
        rules = rules.filter((candidate) => candidate !== active);
      };
    },
    clearFaults() {
      rules = [];
    },
    openMultipartUploads() {
      return [...uploads.values()]
        .filter((upload) => upload.state === 'open')
        .map(({ bucket, key, uploadId }) => ({ bucket, key, uploadId }));
    },
    get multipartUploads() {
      return [...uploads.values()];
    },
    clearOperations() {
      operations.length = 0;
    },
    get held() {
      return holds.map((hold) => hold.operation);
    },
    whenHeld(count) {
      return new Promise((resolve) => {
        const check = () => {
          if (holds.length < count) return;
          heldWaiters.delete(check);
          resolve(holds.map((hold) => hold.operation));
        };
        heldWaiters.add(check);
        check();
      });
    },
    release(operation, action) {
      const released = holds.filter(
        (hold) => operation === undefined || hold.operation === operation,
      );
      holds = holds.filter((hold) => !released.includes(hold));
      for (const held of released) held.resume(action);
    },
    close() {
      closing ??= (async () => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        const closed = new Promise((resolve) => server.close(resolve));
        for (const socket of sockets) socket.destroy();
        agent.destroy();
        await closed;
      })();
      return closing;
    },
  };
}

/**
 * Answers AbortMultipartUpload and ListMultipartUploads itself (s3rver implements neither), and
 * UploadPart / CompleteMultipartUpload of uploads it saw end with NoSuchUpload as S3 does.
 * Returns false when the request is to be forwarded.
 */
function answerMultipart(
  req: IncomingMessage,
  res: ServerResponse,
  operation: S3Operation,
  uploads: Map<string, MultipartUploadRecord>,
): boolean {
  const upload = operation.uploadId === undefined ? undefined : uploads.get(operation.uploadId);
  switch (operation.op) {
    case 'AbortMultipartUpload':
      sendAfterBody(req, () => {
        if (upload === undefined || upload.state !== 'open') {
          sendError(req, res, 404, 'NoSuchUpload', 'The specified upload does not exist.');
          return;
        }
        upload.state = 'aborted';
        res.writeHead(204).end();
      });
      return true;
    case 'ListMultipartUploads':
      sendAfterBody(req, () => {
        const open = [...uploads.values()]
          .filter((u) => u.state === 'open' && u.bucket === operation.bucket)
          .map((u) => ({ key: u.key, uploadId: u.uploadId, initiated: u.initiatedAt }));
        const query = new URL(req.url ?? '/', 'http://proxy').searchParams;
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end(listMultipartUploadsXml(operation.bucket, open, listUploadsQuery(query)));
      });
      return true;
    case 'UploadPart':
    case 'CompleteMultipartUpload':
      if (upload === undefined || upload.state === 'open') return false;
      if (upload.state === 'completed' && operation.op === 'CompleteMultipartUpload') return false;
      sendAfterBody(req, () =>
        sendError(req, res, 404, 'NoSuchUpload', 'The specified upload does not exist.'),
      );
      return true;
    case 'PutObject':
    case 'GetObject':
    case 'HeadObject':
    case 'DeleteObject':
    case 'DeleteObjects':
    case 'CreateMultipartUpload':
    case 'ListObjectsV2':
    case 'CopyObject':
    case 'GetObjectTagging':
    case 'PutObjectTagging':
    case 'GetBucketVersioning':
    case 'Other':
      return false;
  }
}

const SUBRESOURCES = new Set([
  'acl',
  'tagging',
  'torrent',
  'legal-hold',
  'retention',
  'attributes',
  'restore',
  'select',
  'cors',
  'website',
  'policy',
  'versioning',
  'lifecycle',
  'location',
  'versions',
  'notification',
  'encryption',
  'replication',
  'object-lock',
  'logging',
]);

/** Which S3 operation a path-style request is, from its method, query and headers. */
export function classify(req: Pick<IncomingMessage, 'method' | 'url' | 'headers'>): {
  op: S3OperationName;
  method: string;
  bucket: string;
  key?: string;
  uploadId?: string;
  partNumber?: number;
} {
  const method = (req.method ?? 'GET').toUpperCase();
  const url = new URL(req.url ?? '/', 'http://proxy');
  const [rawBucket = '', ...rawKey] = url.pathname.slice(1).split('/');
  const bucket = safeDecode(rawBucket);
  const key = rawKey.join('/') === '' ? undefined : safeDecode(rawKey.join('/'));
  const q = url.searchParams;
  const uploadId = q.get('uploadId') ?? undefined;
  const partNumber = q.has('partNumber') ? Number(q.get('partNumber')) : undefined;
  const base = {
    method,
    bucket,
    ...(key === undefined ? {} : { key }),
    ...(uploadId === undefined ? {} : { uploadId }),
    ...(partNumber === undefined ? {} : { partNumber }),
  };
  const subresource = [...q.keys()].some((name) => SUBRESOURCES.has(name));
  const copySource = req.headers['x-amz-copy-source'] !== undefined;
  const op = ((): S3OperationName => {
    if (key !== undefined && q.has('tagging')) {
      if (method === 'GET') return 'GetObjectTagging';
      if (method === 'PUT') return 'PutObjectTagging';
    }
    if (bucket !== '' && key === undefined && method === 'GET' && q.has('versioning')) {
      return 'GetBucketVersioning';
    }
    if (bucket === '' || subresource) return 'Other';
    if (key === undefined) {
      if (method === 'GET' && q.has('uploads')) return 'ListMultipartUploads';
      if (method === 'GET' && q.get('list-type') === '2') return 'ListObjectsV2';
      if (method === 'POST' && q.has('delete')) return 'DeleteObjects';
      return 'Other';
    }
    switch (method) {
      case 'GET':
        return q.has('uploadId') ? 'Other' : 'GetObject';
      case 'HEAD':
        return 'HeadObject';
      case 'PUT':
        if (uploadId !== undefined) return copySource ? 'Other' : 'UploadPart';
        return copySource ? 'CopyObject' : 'PutObject';
      case 'POST':
        if (q.has('uploads')) return 'CreateMultipartUpload';
        if (uploadId !== undefined) return 'CompleteMultipartUpload';
        return 'Other';
      case 'DELETE':
        return uploadId !== undefined ? 'AbortMultipartUpload' : 'DeleteObject';
      default:
        return 'Other';
    }
  })();
  return { op, ...base };
}

function keyMatches(pattern: string | RegExp, key: string | undefined): boolean {
  if (key === undefined) return false;
  return typeof pattern === 'string' ? pattern === key : pattern.test(key);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function headerValue(rawHeaders: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() === name) return rawHeaders[i + 1];
  }
  return undefined;
}

function isOk(status: number | undefined): boolean {
  return status !== undefined && status >= 200 && status < 300;
}

/** Answers only once the request body is read, so the client is not cut off mid-upload. */
function sendAfterBody(req: IncomingMessage, answer: () => void): void {
  if (req.readableEnded) {
    answer();
    return;
  }
  req.on('end', answer);
  req.resume();
}

function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
): void {
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  const resource = new URL(req.url ?? '/', 'http://proxy').pathname;
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message>` +
    `<Resource>${xmlEscape(resource)}</Resource><RequestId>${requestId}</RequestId></Error>`;
  res.writeHead(status, {
    'content-type': 'application/xml',
    'x-amz-request-id': requestId,
    // HEAD responses carry no body, so the SDK can only go by the status.
    'content-length': req.method === 'HEAD' ? 0 : Buffer.byteLength(body),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

async function bufferBody(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function xmlEscape(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}
