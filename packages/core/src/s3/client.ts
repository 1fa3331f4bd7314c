import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { S3EndpointConfig } from '../config.js';
import type { Logger } from '../logger.js';

export interface S3ClientOptions {
  /**
   * Sockets open to the endpoint at once. A worker needs `concurrency × (parts in flight + 1)`;
   * requests beyond it wait for a free socket. @default 50
   */
  readonly maxSockets?: number;
  /** Time limit of a TCP (and TLS) connect. @default 5000 */
  readonly connectionTimeoutMs?: number;
  /**
   * A request whose response headers have not arrived this long after it started fails with a
   * `TimeoutError` (the time includes sending the request body). 0 disables it. @default 0
   */
  readonly requestTimeoutMs?: number;
  /**
   * A request whose socket sends and receives nothing for this long fails with a
   * `TimeoutError` (a server that accepted the request and went silent). The socket also idles
   * while the caller pauses reading a response body, so a client whose bodies are consumed at
   * the pace of a slower destination should disable it (0) and watch for stalls itself.
   * @default 120000
   */
  readonly socketTimeoutMs?: number;
  /** Attempts per request, the SDK's own retries included (bodies that are streams: 1). @default 3 */
  readonly maxAttempts?: number;
  /** Receives the SDK's warnings at debug level; nothing else from the SDK is logged. */
  readonly logger?: Logger;
}

/**
 * Creates an S3 client for any S3-compatible endpoint: explicit region and endpoint, path-style
 * when configured, static credentials when given (else the SDK's default chain), checksums only
 * when required for stores that reject the SDK's default CRC32 trailers, and keep-alive agents
 * with bounded sockets and timeouts. `client.destroy()` closes the sockets.
 */
export function createS3Client(config: S3EndpointConfig, options: S3ClientOptions = {}): S3Client {
  const maxSockets = options.maxSockets ?? 50;
  // Agents are ours rather than the SDK's defaults so that maxSockets follows the worker's
  // concurrency, and so that the handler sends bodies without waiting for `100 Continue`.
  const agentOptions = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets };
  const checksum = config.checksum === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  const logger = options.logger;
  return new S3Client({
    region: config.region,
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    forcePathStyle: config.forcePathStyle,
    ...(config.accessKeyId !== undefined && config.secretAccessKey !== undefined
      ? {
          credentials: {
            accessKeyId: config.accessKeyId,
            secretAccessKey: config.secretAccessKey,
          },
        }
      : {}),
    maxAttempts: options.maxAttempts ?? 3,
    requestChecksumCalculation: checksum,
    responseChecksumValidation: checksum,
    requestHandler: {
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
      connectionTimeout: options.connectionTimeoutMs ?? 5000,
      requestTimeout: options.requestTimeoutMs ?? 0,
      // Without it, an expired requestTimeout only logs a warning and the request goes on.
      throwOnRequestTimeout: true,
      socketTimeout: options.socketTimeoutMs ?? 120_000,
    },
    logger: sdkLogger(logger),
  });
}

/**
 * The SDK's logger: its warnings, as text at debug level, and nothing else. The SDK logs every
 * command's input and output at info level, and every failed command's input (part bodies
 * included) at error level, when its logger has those methods — and builds a copy of the input
 * and output filtered for logging on every request, even for a logger that drops it. This one
 * has neither method (the SDK calls both as optional), so that work is never done; s3relay logs
 * outcomes itself.
 */
function sdkLogger(logger: Logger | undefined): NonNullable<S3ClientConfig['logger']> {
  const warnings = {
    debug: () => undefined,
    warn: (...content: unknown[]) => {
      const text = content.filter((item) => typeof item === 'string').join(' ');
      if (text !== '') logger?.debug('s3 sdk warning', { detail: text });
    },
  };
  return warnings as unknown as NonNullable<S3ClientConfig['logger']>;
}
