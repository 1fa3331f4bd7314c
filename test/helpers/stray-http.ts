import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';

/** One answer of a {@link StrayHttpServer}. */
export interface StrayAnswer {
  readonly status: number;
  readonly contentType?: string;
  readonly body?: string;
}

/** A request it saw. */
export interface StrayRequest {
  readonly method: string;
  readonly url: string;
}

/**
 * Something that is not S3 where S3 should be: a web server, reverse proxy or CDN that SOURCE_S3_ENDPOINT
 * points at by mistake. It answers every request with `answer(req)` (by default {@link HTML_404}) and records what it was asked.
 */
export interface StrayHttpServer {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly requests: readonly StrayRequest[];
  close(): Promise<void>;
}

/** A 404 page that happens to be well-formed XML: the SDK reports it as `NotFound`, no code. */
export const HTML_404: StrayAnswer = {
  status: 404,
  contentType: 'text/html',
  body: '<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1><p>The requested URL was not found on this server.</p></body></html>',
};

/** nginx's 404 page, which is not even XML (`<hr>` is never closed). */
export const NGINX_404: StrayAnswer = {
  status: 404,
  contentType: 'text/html',
  body: '<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n',
};

export async function startStrayHttpServer(
  answer: (req: IncomingMessage) => StrayAnswer = () => HTML_404,
): Promise<StrayHttpServer> {
  const requests: StrayRequest[] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '' });
    req.resume();
    const { status, contentType, body = '' } = answer(req);
    res.writeHead(status, contentType === undefined ? {} : { 'content-type': contentType });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
