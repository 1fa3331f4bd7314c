import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listenError } from './listen-error.js';
import { serializeError, type Logger } from './logger.js';
import type { VariableName } from './config.js';
import { serveProbe, type ProbeSource } from './service/probe.js';
import type { Registry } from 'prom-client';

export interface MetricsServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly registry: Registry;
  /** The service whose state and checks `/healthz` and `/readyz` show. */
  readonly probe: ProbeSource;
  readonly logger: Logger;
  /** The variables that set host and port, named when the address cannot be bound. */
  readonly variables: { readonly host: VariableName; readonly port: VariableName };
}

export interface MetricsServer {
  /** The port it listens on. */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A service's probe and scrape endpoint, on a port of its own (the worker's METRICS_PORT, the
 * ingress's HTTP_METRICS_PORT) so that what it reveals — Node's version, request counts, broker
 * state — never shares a port with the webhooks: `/healthz` and `/readyz` ({@link serveProbe})
 * and `/metrics` (Prometheus text format).
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (serveProbe(path ?? '/', options.probe, res)) return;
    if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
        (err: unknown) => {
          options.logger.error('metrics collection failed', { error: serializeError(err) });
          res.writeHead(500).end();
        },
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  // Probes and scrapes are short; do not let an idle keep-alive socket hold up shutdown.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: unknown) =>
      reject(
        listenError(err, {
          host: options.host,
          port: options.port,
          hostVariable: options.variables.host,
          portVariable: options.variables.port,
        }),
      );
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
