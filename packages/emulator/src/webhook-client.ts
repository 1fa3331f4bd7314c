import { setMaxListeners } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import { isIPv6, type LookupFunction } from 'node:net';
import tls from 'node:tls';

/** What a webhook receiver answered. */
export interface WebhookResponse {
  readonly status: number;
  /** The body as text, cut at {@link MAX_RESPONSE_BYTES}. */
  readonly body: string;
}

/** The outbound side of the emulator: one POST of a JSON body to a webhook URL. */
export interface WebhookPoster {
  /**
   * POSTs `body` (JSON) to `url` with VK's headers. Resolves with any HTTP answer; rejects on a
   * network error, after `timeoutMs` (for the whole exchange) and when the poster is closed.
   */
  post(url: string, body: string, timeoutMs: number): Promise<WebhookResponse>;
}

/** Receivers answer with a signature or nothing; more than this is not read. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

/** How webhook URLs are reached. */
export interface WebhookClientOptions {
  /**
   * Where to connect for the URLs of a host name, like a port forward: a webhook registered under
   * its public name (`https://hooks.example.com/...`) reaches a local receiver, while the URL, the
   * Host header and the TLS server name stay as registered.
   */
  readonly connectTo?: Readonly<
    Record<string, { readonly address: string; readonly port: number }>
  >;
  /** Certificates trusted for `https` webhooks besides the system's (a private or test CA). */
  readonly ca?: string;
}

/**
 * A {@link WebhookPoster} on node:http(s) whose requests can all be cancelled by {@link close}.
 * It opens a connection per request: a kept-alive socket that the receiver closed while idle
 * would fail the next handshake for no reason of the receiver's making.
 */
export class WebhookClient implements WebhookPoster {
  readonly #abort = new AbortController();
  readonly #httpAgent = new http.Agent({ keepAlive: false });
  readonly #httpsAgent: https.Agent;
  readonly #connectTo: NonNullable<WebhookClientOptions['connectTo']>;

  constructor(options: WebhookClientOptions = {}) {
    this.#httpsAgent = new https.Agent({
      keepAlive: false,
      ...(options.ca === undefined ? {} : { ca: [...tls.rootCertificates, options.ca] }),
    });
    this.#connectTo = options.connectTo ?? {};
    // Every request in flight listens on the one signal that cancels them all; a busy webhook
    // has more than Node's default of 10 at once, which is not a leak.
    setMaxListeners(0, this.#abort.signal);
  }

  post(url: string, body: string, timeoutMs: number): Promise<WebhookResponse> {
    return new Promise((resolve, reject) => {
      if (this.#abort.signal.aborted) {
        reject(new Error('the webhook client is closed'));
        return;
      }
      const target = new URL(url);
      const isHttps = target.protocol === 'https:';
      const route = this.#connectTo[target.hostname];
      const request = (isHttps ? https : http).request(target, {
        method: 'POST',
        agent: isHttps ? this.#httpsAgent : this.#httpAgent,
        ...(route === undefined
          ? {}
          : { port: route.port, lookup: resolveTo(route.address), servername: target.hostname }),
        signal: this.#abort.signal,
        headers: {
          ...(route === undefined ? {} : { Host: target.host }),
          // Spelled as VK documents them: some receivers match raw header names.
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
          // Sent on handshakes and events alike since VK's documentation of 2025-04.
          'X-Amz-Sns-Message-Type': 'Notification',
        },
      });
      const timer = setTimeout(() => {
        request.destroy(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      request.once('close', () => clearTimeout(timer));
      // A destroyed request may report more than one error; the first settles the promise.
      request.on('error', reject);
      request.once('response', (response) => {
        const chunks: Buffer[] = [];
        let length = 0;
        response.on('data', (chunk: Buffer) => {
          if (length < MAX_RESPONSE_BYTES) chunks.push(chunk);
          length += chunk.length;
        });
        response.on('error', reject);
        response.once('end', () => {
          const text = Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES).toString('utf8');
          resolve({ status: response.statusCode ?? 0, body: text });
        });
      });
      request.end(body);
    });
  }

  /** Cancels every request in flight (they reject) and refuses new ones. */
  close(): void {
    this.#abort.abort();
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }
}

/** A DNS lookup that answers `address` for every name. */
function resolveTo(address: string): LookupFunction {
  const family = isIPv6(address) ? 6 : 4;
  return (_hostname, options, callback) => {
    if (options.all === true) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };
}
