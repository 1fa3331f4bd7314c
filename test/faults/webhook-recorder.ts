import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AckedRecord } from './ledger.js';

/** One event record as the recorder read it. */
export interface RecordedRecord {
  readonly key: string;
  readonly kind: 'created' | 'removed';
  /** Unquoted; created events only. */
  readonly eTag?: string;
  /** The source's order of events on a bucket; a duplicate delivery repeats it. */
  readonly sequencer: string;
  /**
   * Sorts the events of a key in the order the source made them: the sequencer for VK (a
   * number), the event time in microseconds for Ceph (whose sequencer does not sort).
   */
  readonly order: number;
}

/** Whose event bodies pass through: how keys are encoded and events named. */
export type RecorderSource = 'vk' | 'ceph';

/**
 * What the recorder adds to a source that neither repeats nor reorders (Ceph): a share of the
 * event POSTs is sent to the ingress a second time, after a random delay, so that the copy
 * arrives after later events of its key.
 */
export interface RecorderChaos {
  /** Share of event POSTs sent twice, 0..1. */
  readonly duplicateRate: number;
  /** The second copy follows within this many milliseconds. */
  readonly duplicateDelayMaxMs: number;
}

/** One webhook POST that went through the recorder, with what the ingress answered. */
export interface RecordedPost {
  readonly records: readonly RecordedRecord[];
  /** The ingress's status; 0 when it did not answer (down, reset, or no answer in time). */
  readonly status: number;
  readonly startedAt: number;
  readonly durationMs: number;
}

/** An HTTP proxy between the source's webhooks and the ingress that writes down every answer. */
export interface WebhookRecorder {
  /** `http://127.0.0.1:<port>`: register webhooks here. */
  readonly url: string;
  readonly posts: readonly RecordedPost[];
  /** Every record the ingress answered 2xx for, one entry per delivery. */
  acked(): AckedRecord[];
  /** Points the recorder at another ingress port. */
  setTarget(port: number): void;
  /** Its own deliveries: duplicates waiting (queued) and requests to the ingress (in flight). */
  stats(): { queued: number; inFlight: number; dropped: number };
  /** Resolves once nothing is queued or in flight; rejects after `timeoutMs`. */
  idle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * How long the recorder waits for the ingress. Longer than the sender's own timeout on purpose:
 * a 2xx the ingress gives after the sender stopped waiting still commits the ingress (it
 * published the record), so the ledger must count it.
 */
const UPSTREAM_TIMEOUT_MS = 30_000;

/**
 * Starts the recorder on 127.0.0.1. It forwards every request to the ingress unchanged (the VK
 * handshake too: the ingress signs the URL in PUBLIC_URLS, the recorder's) and records event POSTs
 * with the ingress's status. When the ingress is unreachable it answers 502, as a load balancer
 * would.
 */
export async function startWebhookRecorder(
  targetPort: number,
  options: { source?: RecorderSource; chaos?: RecorderChaos } = {},
): Promise<WebhookRecorder> {
  let port = targetPort;
  const posts: RecordedPost[] = [];
  const sockets = new Set<Socket>();
  const source = options.source ?? 'vk';
  const timers = new Set<NodeJS.Timeout>();
  let inFlight = 0;
  let stopped = false;

  /** Sends one request to the ingress and records its answer; resolves with the answer. */
  const forward = (
    req: Pick<IncomingMessage, 'method' | 'url' | 'headers'>,
    body: Buffer,
  ): Promise<{ status: number; headers: Record<string, string | string[]>; body: Buffer }> => {
    const startedAt = Date.now();
    const records = eventRecords(body, source);
    inFlight += 1;
    return new Promise((resolve) => {
      let settled = false;
      const settle = (
        status: number,
        headers: Record<string, string | string[]>,
        answer: Buffer,
      ) => {
        if (settled) return;
        settled = true;
        inFlight -= 1;
        if (records !== undefined) {
          posts.push({ records, status, startedAt, durationMs: Date.now() - startedAt });
        }
        resolve({ status, headers, body: answer });
      };
      const upstream = httpRequest({
        host: '127.0.0.1',
        port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, connection: 'close' },
        timeout: UPSTREAM_TIMEOUT_MS,
      });
      upstream.on('timeout', () => upstream.destroy(new Error('no answer in time')));
      upstream.on('error', () => settle(0, {}, Buffer.alloc(0)));
      upstream.on('response', (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('error', () => undefined);
        answer.on('end', () =>
          settle(answer.statusCode ?? 0, filteredHeaders(answer), Buffer.concat(chunks)),
        );
      });
      upstream.end(body);
    });
  };

  /** The chaos' second copy of an event POST, later; its answer goes nowhere but the record. */
  const duplicateLater = (req: IncomingMessage, body: Buffer) => {
    const chaos = options.chaos;
    if (chaos === undefined || stopped || Math.random() >= chaos.duplicateRate) return;
    const copy = { method: req.method, url: req.url, headers: { ...req.headers } };
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!stopped) void forward(copy, body);
    }, Math.random() * chaos.duplicateDelayMaxMs);
    timers.add(timer);
  };

  const server = createServer((req, res) => {
    void readBody(req).then(
      async (body) => {
        const answer = await forward(req, body);
        if (
          eventRecords(body, source) !== undefined &&
          answer.status >= 200 &&
          answer.status < 300
        ) {
          duplicateLater(req, body);
        }
        if (res.destroyed) return;
        if (answer.status === 0) res.writeHead(502).end();
        else res.writeHead(answer.status, answer.headers).end(answer.body);
      },
      () => res.destroy(),
    );
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as { port: number };
  let closing: Promise<void> | undefined;

  return {
    url: `http://127.0.0.1:${address.port}`,
    posts,
    acked: () =>
      posts
        .filter((post) => post.status >= 200 && post.status < 300)
        .flatMap((post) =>
          post.records.map(
            ({ key, kind, eTag }): AckedRecord => ({
              key,
              kind,
              ...(eTag === undefined ? {} : { eTag }),
              at: post.startedAt + post.durationMs,
            }),
          ),
        ),
    setTarget(next) {
      port = next;
    },
    stats: () => ({ queued: timers.size, inFlight, dropped: 0 }),
    async idle(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (timers.size > 0 || inFlight > 0) {
        if (Date.now() > deadline) throw new Error(`webhook recorder not idle in ${timeoutMs} ms`);
        await sleep(50);
      }
    },
    close() {
      closing ??= (async () => {
        stopped = true;
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        const closed = new Promise((resolve) => server.close(resolve));
        for (const socket of sockets) socket.destroy();
        await closed;
      })();
      return closing;
    },
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The records of an event body, undefined for anything else (the handshake): VK keys decoded the
 * way AWS documents (form encoding, `+` for a space), Ceph keys raw. Decoded here independently
 * of the product's parser, so that a decoding bug there shows up as a ledger difference.
 */
function eventRecords(body: Buffer, source: RecorderSource): RecordedPost['records'] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  const list = (parsed as { Records?: unknown }).Records;
  if (!Array.isArray(list)) return undefined;
  return list.map((record: unknown) => {
    const r = record as {
      eventName: string;
      eventTime?: string;
      s3: { object: { key: string; eTag?: string; sequencer?: number | string } };
    };
    const ceph = source === 'ceph';
    const key = ceph ? r.s3.object.key : decodeURIComponent(r.s3.object.key.replace(/\+/g, ' '));
    // Ceph names events without the `s3:` prefix.
    const kind = r.eventName.replace(/^s3:/, '').startsWith('ObjectRemoved:')
      ? 'removed'
      : 'created';
    // Ceph sends an empty ETag for a delete.
    const eTag = kind === 'removed' ? undefined : r.s3.object.eTag?.replace(/"/g, '');
    const sequencer = String(r.s3.object.sequencer ?? '');
    const order = ceph ? microseconds(r.eventTime ?? '') : Number(sequencer);
    return eTag === undefined
      ? { key, kind, sequencer, order }
      : { key, kind, eTag, sequencer, order };
  });
}

/** `2026-11-29T00:16:36.999884Z` → microseconds since the epoch (Ceph's event times). */
function microseconds(time: string): number {
  const match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(time);
  if (match === null) return NaN;
  const fraction = (match[2] ?? '').padEnd(6, '0').slice(0, 6);
  return Date.parse(`${match[1] ?? ''}Z`) * 1000 + Number(fraction);
}

function filteredHeaders(answer: IncomingMessage): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(answer.headers)) {
    if (value === undefined || name === 'connection' || name === 'transfer-encoding') continue;
    headers[name] = value;
  }
  return headers;
}
