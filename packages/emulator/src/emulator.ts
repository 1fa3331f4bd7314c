import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { ConfigError, silentLogger, type Logger } from '@s3relay/core';
import {
  DeliveryQueue,
  compileDeliveryOptions,
  type DeliveryAttempt,
  type DeliveryOptions,
  type DeliveryStats,
} from './delivery-queue.js';
import { configurationMatches } from './event-matching.js';
import { createFront, type ObservedChange } from './front.js';
import { confirmSubscription } from './handshake.js';
import {
  serializeNotificationConfiguration,
  type EventPattern,
  type WebhookConfiguration,
} from './notification-config.js';
import { SequencerClock, VK_REGION, createRecord, type RecordIdentity } from './records.js';
import { putNotificationConfigurationXml } from './register-webhook.js';
import { startS3rverBackend } from './s3rver-backend.js';
import { WebhookClient, type WebhookClientOptions } from './webhook-client.js';

export interface EmulatorOptions {
  /** Where the S3 endpoint listens. @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (a free port; read it from {@link Emulator.port}) */
  readonly port?: number;
  /** Buckets that exist from the start (more can be created with CreateBucket). */
  readonly buckets: readonly string[];
  /**
   * Where objects are stored. Kept on close when given (and reused on the next start); a fresh
   * temporary directory, removed on close, when not.
   */
  readonly directory?: string;
  /** The only access key id the endpoint accepts. @default 'S3RVER' */
  readonly accessKeyId?: string;
  /** Used by {@link Emulator.registerWebhook}; not verified on requests (see README). @default 'S3RVER' */
  readonly secretAccessKey?: string;
  /** VK's project id: `TopicArn` prefix and `ownerIdentity.principalId`. @default 'mcs1000000000' */
  readonly ownerId?: string;
  readonly delivery?: DeliveryOptions;
  /** How webhook URLs are reached (host names mapped to local addresses, a private CA). */
  readonly webhooks?: WebhookClientOptions;
  /** @default silentLogger */
  readonly logger?: Logger;
}

export interface RegisterWebhookOptions {
  /** @default ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'] */
  readonly events?: readonly EventPattern[];
  readonly prefix?: string;
  readonly suffix?: string;
  /** Replaces the bucket's webhook with this id. @default the lowest unused "1", "2", … */
  readonly id?: string;
}

/** A running VK Cloud bucket stand-in. */
export interface Emulator {
  /** `http://<host>:<port>`, path-style. */
  readonly endpoint: string;
  readonly port: number;
  /** The region clients should sign for (any works): VK's `ru-msk`. */
  readonly region: string;
  /** What clients must sign with: the access key id is checked, the secret is not. */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /**
   * Adds (or replaces, by id) a webhook of `bucket` the way a user does: a real SigV4-signed
   * `PUT /<bucket>?notification` through the AWS SDK against this emulator, carrying every
   * webhook of the bucket. Resolves once the handshakes passed; rejects with the SDK's error
   * (`InvalidArgument` when a handshake failed, `NoSuchBucket`, …) otherwise.
   */
  registerWebhook(bucket: string, url: string, options?: RegisterWebhookOptions): Promise<void>;
  /** The webhooks registered on `bucket`. */
  webhooks(bucket: string): readonly WebhookConfiguration[];
  stats(): DeliveryStats;
  /** The most recent webhook POSTs (events, not handshakes), oldest first. */
  deliveries(): readonly DeliveryAttempt[];
  /**
   * Resolves when no event is queued or in flight. Events are queued before the S3 client gets
   * its answer, so `await putObject(); await emulator.idle()` waits for that put's events.
   * Rejects after `timeoutMs` when given, and on close.
   */
  idle(timeoutMs?: number): Promise<void>;
  /** Stops the endpoint, pending deliveries and their retries; idempotent. */
  close(): Promise<void>;
}

const DEFAULT_EVENTS: readonly EventPattern[] = ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'];

/**
 * Starts a local stand-in for VK Cloud Object Storage: an S3 endpoint (s3rver behind a front that
 * speaks VK's `?notification` dialect) whose object events are pushed to the registered webhooks
 * the way VK does, after VK's handshake, with at-least-once delivery and retries.
 * Thrown ({@link ConfigError}) for invalid options.
 */
export async function startEmulator(options: EmulatorOptions): Promise<Emulator> {
  const host = options.host ?? '127.0.0.1';
  const accessKeyId = options.accessKeyId ?? 'S3RVER';
  const secretAccessKey = options.secretAccessKey ?? 'S3RVER';
  const identity: RecordIdentity = {
    ownerId: options.ownerId ?? 'mcs1000000000',
    userId: randomUUID(),
  };
  const logger = (options.logger ?? silentLogger).child({ component: 'emulator' });
  const delivery = compileDeliveryOptions(options.delivery);
  checkOptions(options, identity.ownerId, accessKeyId);

  const cleanups: (() => Promise<void> | void)[] = [];
  const runCleanups = async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err: unknown) {
        logger.warn('emulator cleanup failed', { error: err });
      }
    }
  };
  try {
    let directory = options.directory;
    if (directory === undefined) {
      const temporary = await mkdtemp(join(tmpdir(), 's3relay-emulator-'));
      cleanups.push(() => rm(temporary, { recursive: true, force: true }));
      directory = temporary;
    } else {
      await mkdir(directory, { recursive: true });
    }
    const backend = await startS3rverBackend({
      directory,
      buckets: options.buckets,
      accessKeyId,
      secretAccessKey,
      logger,
    });
    cleanups.push(() => backend.close());

    const poster = new WebhookClient(options.webhooks);
    cleanups.push(() => poster.close());
    const queue = new DeliveryQueue(delivery, poster, logger);
    cleanups.push(() => queue.close());
    const configurations = new Map<string, readonly WebhookConfiguration[]>();
    const sequencers = new SequencerClock();

    const onChanges = (changes: readonly ObservedChange[]) => {
      for (const change of changes) {
        const event = { ...change, sequencer: sequencers.next(change.bucket) };
        for (const configuration of configurations.get(change.bucket) ?? []) {
          if (!configurationMatches(configuration, change.eventName, change.key)) continue;
          queue.enqueue(
            configuration.url,
            createRecord(event, configuration.id, identity),
            change.key,
          );
        }
      }
    };
    const front = createFront({
      backend,
      accessKeyId,
      ownerId: identity.ownerId,
      configurations,
      confirm: (url, topicArn) =>
        confirmSubscription(poster, url, topicArn, delivery.requestTimeoutMs),
      onChanges,
      logger,
    });
    cleanups.push(() => front.close());

    const server = http.createServer((req, res) => front.handle(req, res));
    // Longer than SDK clients keep idle sockets, so they rarely reuse one the server just closed.
    server.keepAliveTimeout = 60_000;
    await listen(server, options.port ?? 0, host);
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const port = (server.address() as AddressInfo).port;
    const endpoint = `http://${endpointHost(host)}:${port}`;

    const client = new S3Client({
      endpoint,
      region: VK_REGION,
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 1,
    });
    cleanups.push(() => client.destroy());

    logger.info('emulator started', { endpoint, buckets: options.buckets, directory });
    let closing: Promise<void> | undefined;
    return {
      endpoint,
      port,
      region: VK_REGION,
      credentials: { accessKeyId, secretAccessKey },
      async registerWebhook(bucket, url, webhook = {}) {
        const existing = configurations.get(bucket) ?? [];
        const id = webhook.id ?? lowestUnusedId(existing);
        const configuration: WebhookConfiguration = {
          id,
          events: webhook.events ?? DEFAULT_EVENTS,
          url,
          ...(webhook.prefix === undefined ? {} : { prefix: webhook.prefix }),
          ...(webhook.suffix === undefined ? {} : { suffix: webhook.suffix }),
        };
        const wanted = [...existing.filter((other) => other.id !== id), configuration];
        await putNotificationConfigurationXml(
          client,
          bucket,
          serializeNotificationConfiguration(wanted),
        );
      },
      webhooks: (bucket) => configurations.get(bucket) ?? [],
      stats: () => queue.stats(),
      deliveries: () => queue.deliveries(),
      idle: (timeoutMs) => queue.idle(timeoutMs),
      close() {
        closing ??= (async () => {
          await runCleanups();
          logger.info('emulator stopped', { endpoint });
        })();
        return closing;
      },
    };
  } catch (err: unknown) {
    await runCleanups();
    throw err;
  }
}

function checkOptions(options: EmulatorOptions, ownerId: string, accessKeyId: string): void {
  const problems: string[] = [];
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) problems.push('port must be 0..65535');
  if (options.buckets.some((bucket) => !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))) {
    problems.push('buckets must be valid S3 bucket names (3-63 of a-z 0-9 . -)');
  }
  if (ownerId === '' || ownerId.includes('|'))
    problems.push('ownerId must be non-empty and without "|"');
  if (accessKeyId === '') problems.push('accessKeyId must be non-empty');
  if (problems.length > 0)
    throw new ConfigError(`invalid emulator options: ${problems.join('; ')}`);
}

function lowestUnusedId(existing: readonly WebhookConfiguration[]): string {
  const used = new Set(existing.map((configuration) => configuration.id));
  let id = 1;
  while (used.has(String(id))) id += 1;
  return String(id);
}

/** A host clients can reach: a wildcard address is reached through loopback. */
function endpointHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
