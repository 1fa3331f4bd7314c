import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { AckedRecord } from './ledger.js';

/** One event record as the recorder read it. */
export interface RecordedRecord {
  readonly key: string;
  readonly kind: 'created' | 'removed';
  /** Unquoted; created events only. */
  readonly eTag?: string;
  /** The source's order of events on a bucket; a duplicate delivery repeats it. */
  readonly sequencer: string;
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
export async function startWebhookRecorder(targetPort: number): Promise<WebhookRecorder> {
  let port = targetPort;
  const posts: RecordedPost[] = [];
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => {
    const startedAt = Date.now();
    void readBody(req).then(
      (body) => {
        const records = eventRecords(body);
        const settle = (status: number) => {
          if (records !== undefined) {
            posts.push({ records, status, startedAt, durationMs: Date.now() - startedAt });
          }
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
        upstream.on('error', () => {
          settle(0);
          if (!res.headersSent) res.writeHead(502).end();
          else res.destroy();
        });
        upstream.on('response', (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('error', () => undefined);
          answer.on('end', () => {
            settle(answer.statusCode ?? 0);
            if (res.destroyed) return;
            res.writeHead(answer.statusCode ?? 502, filteredHeaders(answer));
            res.end(Buffer.concat(chunks));
          });
        });
        upstream.end(body);
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
    close() {
      closing ??= (async () => {
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
 * The records of a VK event body, keys decoded the way AWS documents (form encoding, `+` for a
 * space); undefined for anything else (the handshake). Decoded here independently of the
 * product's parser, so that a decoding bug there shows up as a ledger difference.
 */
function eventRecords(body: Buffer): RecordedPost['records'] | undefined {
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
      s3: { object: { key: string; eTag?: string; sequencer?: number | string } };
    };
    const key = decodeURIComponent(r.s3.object.key.replace(/\+/g, ' '));
    const kind = r.eventName.startsWith('s3:ObjectRemoved:') ? 'removed' : 'created';
    const eTag = r.s3.object.eTag?.replace(/"/g, '');
    const sequencer = String(r.s3.object.sequencer ?? '');
    return eTag === undefined ? { key, kind, sequencer } : { key, kind, eTag, sequencer };
  });
}

function filteredHeaders(answer: IncomingMessage): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(answer.headers)) {
    if (value === undefined || name === 'connection' || name === 'transfer-encoding') continue;
    headers[name] = value;
  }
  return headers;
}
