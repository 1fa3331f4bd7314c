import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serializeError, silentLogger, type Logger } from '@s3relay/core';
import type { Broker } from '@s3relay/core/amqp';
import { handleApi, type ApiContext } from './api.js';
import type { HeldSummary } from './api-types.js';
import { DlqView } from './dlq/dlq-view.js';
import { ConsoleAuth, isLoopback } from './http/auth.js';
import { HttpError, SECURITY_HEADERS, readBody, sendError } from './http/responses.js';
import { sendFile, staticFile } from './http/static-files.js';
import { Jobs } from './jobs.js';
import type { ConsoleOperations } from './operations.js';
import { QueueMonitor } from './queues/queue-monitor.js';
import { TelemetryAggregator } from './telemetry/aggregator.js';
import { TelemetryListener } from './telemetry/listener.js';

export interface ConsoleOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Required unless `host` is a loopback address. */
  readonly token: string | undefined;
  readonly prefix: string;
  /** A started broker, owned by the caller; the console listens and operates through it. */
  readonly broker: Broker;
  /** The broker's URL without its password, for the page. */
  readonly brokerUrl: string;
  readonly operations: ConsoleOperations;
  readonly logger?: Logger;
  /** How often queue depths are sampled. @default 2000 */
  readonly queueIntervalMs?: number;
  /** Width of one step of the charts. @default 10000 */
  readonly stepMs?: number;
  /** How far back the charts go. @default 15 minutes */
  readonly historyMs?: number;
}

export interface ConsoleServer {
  /** `http://host:port/` */
  readonly url: string;
  readonly port: number;
  /** Snapshots heard so far (tests wait for the first). */
  readonly snapshotsReceived: number;
  /** Stops listening, lets a running operation finish, stops sampling; idempotent. */
  close(): Promise<void>;
}

/** Thrown when the console would be reachable from other machines without a token. */
export class ConsoleConfigError extends Error {
  override readonly name = 'ConsoleConfigError';
}

/**
 * Starts `s3relay console`: the page and its API on one port, the queue sampler, and the
 * telemetry listener that learns every ingress and worker through the broker.
 */
export async function startConsole(options: ConsoleOptions): Promise<ConsoleServer> {
  if (!isLoopback(options.host) && options.token === undefined) {
    throw new ConsoleConfigError(
      `the console would listen on ${options.host} without a token; set CONSOLE_TOKEN ` +
        '(at least 16 characters), or listen on 127.0.0.1 and reach it through an SSH tunnel ' +
        'or kubectl port-forward',
    );
  }
  const logger = options.logger ?? silentLogger;
  const now = Date.now;
  const aggregator = new TelemetryAggregator({
    stepMs: options.stepMs,
    historyMs: options.historyMs,
  });
  const listener = new TelemetryListener({
    broker: options.broker,
    prefix: options.prefix,
    aggregator,
    logger,
  });
  const queues = new QueueMonitor({
    sample: () => options.operations.queues(),
    intervalMs: options.queueIntervalMs,
    historyMs: options.historyMs,
    logger,
  });
  const jobs = new Jobs(now);
  const auth = new ConsoleAuth(options.token);
  const context: ApiContext = {
    prefix: options.prefix,
    broker: () => ({
      connected: options.broker.connection !== undefined,
      url: options.brokerUrl,
    }),
    operations: options.operations,
    aggregator,
    queues,
    jobs,
    dlq: new DlqView(options.operations),
    held: (): HeldSummary => {
      const held = queues.latest?.queues.filter((queue) => queue.role === 'held') ?? [];
      return {
        available: held.length > 0,
        messages: held.length > 0 ? held.reduce((sum, q) => sum + q.messages, 0) : undefined,
      };
    },
    now,
    startedAt: now(),
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((err: unknown) => {
      if (err instanceof HttpError) {
        sendError(response, err.status, err.code, err.message);
        return;
      }
      logger.error('console request failed', { url: request.url, error: serializeError(err) });
      if (!response.headersSent)
        sendError(response, 500, 'internal', 'the console failed; see its log');
      else response.end();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://console');
    const method = request.method ?? 'GET';
    if (url.pathname === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    // The stylesheet and scripts hold nothing secret, and the login page needs the stylesheet.
    const file = staticFile(url.pathname);
    if (method === 'GET' && file !== undefined && url.pathname !== '/') {
      if (url.pathname !== '/login') await sendFile(response, file);
      else if (!auth.requiresLogin) redirect(response, '/');
      else {
        await sendFile(response, file, (html) =>
          url.searchParams.has('failed')
            ? html.replace(
                '<!--failed-->',
                '<p class="error-text" role="alert">That is not the token. Try again.</p>',
              )
            : html,
        );
      }
      return;
    }
    if (method === 'POST' && url.pathname === '/login') {
      await login(request, response);
      return;
    }
    if (!auth.isAllowed(request)) {
      if (!auth.requiresLogin) {
        sendError(response, 403, 'forbidden_host', 'open the console as http://127.0.0.1:<port>/');
      } else if (url.pathname.startsWith('/api/')) {
        sendError(response, 401, 'login_required', 'log in with CONSOLE_TOKEN');
      } else {
        redirect(response, '/login');
      }
      return;
    }
    if (method === 'POST' && !auth.isSameOrigin(request)) {
      throw new HttpError(403, 'cross_origin', 'changes come only from the console page itself');
    }
    if (method === 'POST' && url.pathname === '/logout') {
      response.writeHead(303, { location: '/login', 'set-cookie': auth.logout(request) }).end();
      return;
    }
    if (method === 'GET' && url.pathname === '/') {
      await sendFile(response, file ?? { file: '', type: '' });
      return;
    }
    if (url.pathname.startsWith('/api/') && (await handleApi(context, request, response, url))) {
      return;
    }
    sendError(response, 404, 'not_found', `no ${method} ${url.pathname}`);
  }

  async function login(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (!auth.isSameOrigin(request)) {
      throw new HttpError(403, 'cross_origin', 'log in from the console page itself');
    }
    const token = new URLSearchParams(await readBody(request)).get('token') ?? '';
    const cookie = auth.login(token);
    if (cookie === undefined) {
      // A little patience per wrong guess; the token's length does the rest.
      await new Promise((resolve) => setTimeout(resolve, 300));
      redirect(response, '/login?failed=1');
      return;
    }
    response.writeHead(303, { ...SECURITY_HEADERS, location: '/', 'set-cookie': cookie }).end();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.keepAliveTimeout = 5000;
  listener.start();
  // Sampling starts with the first connection, so a console started before the broker answers
  // does not log a failed sample.
  const startSampling = () => queues.start();
  if (options.broker.connection !== undefined) startSampling();
  else options.broker.once('connected', startSampling);
  const { port } = server.address() as AddressInfo;
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${hostForUrl}:${port}/`,
    port,
    get snapshotsReceived() {
      return listener.received;
    },
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await jobs.idle();
        server.closeAllConnections();
        await closed;
        options.broker.off('connected', startSampling);
        await queues.close();
        await listener.close();
      })();
      return closing;
    },
  };
}

function redirect(response: ServerResponse, location: string): void {
  response.writeHead(303, { ...SECURITY_HEADERS, location }).end();
}
