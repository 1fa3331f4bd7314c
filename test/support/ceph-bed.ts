import { randomBytes } from 'node:crypto';
import { GetObjectCommand, GetObjectTaggingCommand, type S3Client } from '@aws-sdk/client-s3';
import { loadConfig, type Config } from '@s3relay/core';
import { PROVENANCE_METADATA_NAMES } from '@s3relay/core/s3';
import { createWorker, type Worker } from '@s3relay/worker';
import {
  createBucket,
  createCephTopic,
  deleteBucket,
  deleteCephTopic,
  notifyBucket,
} from '../helpers/ceph-buckets.js';
import { cephClient, cephConnection, cephEnv, type CephConnection } from '../helpers/ceph-rgw.js';
import { captureLog } from '../helpers/log-capture.js';
import { rabbitUrl } from '../helpers/rabbit.js';
import { startS3Proxy, type S3Proxy } from '../helpers/s3-proxy.js';
import { sha256 } from '../helpers/s3.js';
import { startTestIngress, type TestIngress } from './ingress-bed.js';

/**
 * The pipeline on the ceph tier's cluster: a source bucket of user `source` whose real bucket
 * notifications push to an in-process ingress, in-process workers, and a backup bucket of user
 * `backup` (another account). Buckets, topic and queues are this bed's own.
 */
export interface CephBed {
  readonly ceph: CephConnection;
  /** User `source`'s client (straight to the gateway). */
  readonly source: S3Client;
  /** User `backup`'s client (straight to the gateway). */
  readonly backup: S3Client;
  readonly sourceBucket: string;
  readonly backupBucket: string;
  readonly ingress: TestIngress;
  /** Between the workers (and CLI runs) and the source, when asked for: counts requests. */
  readonly sourceProxy: S3Proxy | undefined;
  /** Between the workers (and CLI runs) and the backup, when asked for: counts and faults. */
  readonly backupProxy: S3Proxy | undefined;
  /** The environment of workers and CLI runs: test defaults, then `overrides`. */
  env(overrides?: Record<string, string>): Record<string, string>;
  config(overrides?: Record<string, string>): Config;
  /** Starts an in-process worker, closed by {@link CephBed.close}. */
  startWorker(overrides?: Record<string, string>): Promise<Worker>;
  /** Every log line of the in-process workers, parsed. */
  logs(): Record<string, unknown>[];
  backupKey(key: string): string;
  close(): Promise<void>;
}

export interface CephBedOptions {
  /** Part of the names of the queues, buckets and topic. */
  readonly label: string;
  /** @default '' */
  readonly destPrefix?: string;
  /** Versioning on the backup bucket. @default false */
  readonly versioned?: boolean;
  /** Notifications from the source bucket to the ingress. @default true */
  readonly notifications?: boolean;
  /** Put a recording, fault-injecting proxy in front of a side. */
  readonly proxy?: { readonly source?: boolean; readonly backup?: boolean };
}

export async function startCephBed(options: CephBedOptions): Promise<CephBed> {
  const ceph = cephConnection();
  const cleanups: (() => Promise<unknown>)[] = [];
  const run = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const id = `${options.label
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .slice(0, 30)}-${randomBytes(4).toString('hex')}`;
    const source = cephClient(ceph.endpoint, ceph.users.source);
    const backup = cephClient(ceph.endpoint, ceph.users.backup);
    cleanups.push(() => Promise.resolve(source.destroy()));
    cleanups.push(() => Promise.resolve(backup.destroy()));
    const sourceBucket = `src-${id}`;
    const backupBucket = `bak-${id}`;
    await createBucket(source, sourceBucket);
    cleanups.push(() => deleteBucket(source, sourceBucket));
    await createBucket(backup, backupBucket, { versioned: options.versioned === true });
    cleanups.push(() => deleteBucket(backup, backupBucket));
    const sourceProxy =
      options.proxy?.source === true
        ? await startS3Proxy({ endpoint: ceph.endpoint, emulateMultipart: false })
        : undefined;
    const backupProxy =
      options.proxy?.backup === true
        ? await startS3Proxy({ endpoint: ceph.endpoint, emulateMultipart: false })
        : undefined;
    for (const proxy of [sourceProxy, backupProxy]) {
      if (proxy !== undefined) cleanups.push(() => proxy.close());
    }

    const token = randomBytes(12).toString('hex');
    const ingressCleanups: (() => Promise<void>)[] = [];
    cleanups.push(async () => {
      for (const cleanup of ingressCleanups) await cleanup();
    });
    const ingress = await startTestIngress({
      label: `ceph-${options.label}`,
      env: { WEBHOOK_TOKEN: token, SOURCE_BUCKETS: sourceBucket },
      cleanups: ingressCleanups,
    });
    if (options.notifications !== false) {
      const arn = await createCephTopic({
        endpoint: ceph.endpoint,
        user: ceph.users.source,
        name: `s3relay-${id}`,
        pushEndpoint: `${ingress.url}/webhook/ceph/${token}`,
        persistent: false,
      });
      cleanups.push(() => deleteCephTopic(ceph.endpoint, ceph.users.source, arn));
      await notifyBucket(source, sourceBucket, arn);
    }

    const destPrefix = options.destPrefix ?? '';
    const env = (overrides: Record<string, string> = {}) => ({
      AMQP_URL: rabbitUrl(),
      AMQP_PREFIX: ingress.prefix,
      RETRY_DELAYS: '200ms,500ms',
      MAX_ATTEMPTS: '4',
      WORKER_CONCURRENCY: '4',
      PART_SIZE_MB: '5',
      PART_QUEUE_SIZE: '2',
      SOURCE_IDLE_TIMEOUT_MS: '5000',
      SHUTDOWN_TIMEOUT_MS: '5000',
      METRICS_PORT: '0',
      LOG_LEVEL: 'debug',
      SOURCE_BUCKETS: sourceBucket,
      DEST_BUCKET: backupBucket,
      DEST_PREFIX: destPrefix,
      ...cephEnv('SOURCE', sourceProxy?.endpoint ?? ceph.endpoint, ceph.users.source),
      ...cephEnv('DEST', backupProxy?.endpoint ?? ceph.endpoint, ceph.users.backup),
      ...overrides,
    });
    const config = (overrides?: Record<string, string>) => loadConfig(env(overrides));
    const workers: Worker[] = [];
    const log = captureLog('worker');
    // Workers stop before the queues, the topic and the buckets go.
    cleanups.push(async () => {
      await Promise.allSettled(workers.map((worker) => worker.close()));
    });
    return {
      ceph,
      source,
      backup,
      sourceBucket,
      backupBucket,
      ingress,
      sourceProxy,
      backupProxy,
      env,
      config,
      async startWorker(overrides) {
        const worker = createWorker({ config: config(overrides), logger: log.logger });
        workers.push(worker);
        await worker.start();
        return worker;
      },
      logs: log.lines,
      backupKey: (key) => destPrefix + key,
      close: run,
    };
  } catch (err) {
    await run();
    throw err;
  }
}

/** What a reader of one object sees, for byte-for-byte comparison of source and backup. */
export interface ObjectView {
  readonly sha256: string;
  readonly size: number;
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  readonly contentDisposition: string | undefined;
  readonly contentLanguage: string | undefined;
  readonly cacheControl: string | undefined;
  readonly expires: string | undefined;
  /** User metadata without s3relay's provenance. */
  readonly metadata: Record<string, string>;
  readonly tags: Record<string, string>;
}

/** The object as a GET (and GetObjectTagging) shows it; undefined when there is none. */
export async function viewObject(
  client: S3Client,
  bucket: string,
  key: string,
): Promise<ObjectView | undefined> {
  let response;
  try {
    response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
    throw err;
  }
  const bytes = Buffer.from(
    await (response.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
  const tagging = await client.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
  const metadata = Object.fromEntries(
    Object.entries(response.Metadata ?? {}).filter(
      ([name]) => !PROVENANCE_METADATA_NAMES.includes(name),
    ),
  );
  return {
    sha256: sha256(bytes),
    size: bytes.length,
    contentType: response.ContentType,
    contentEncoding: response.ContentEncoding,
    contentDisposition: response.ContentDisposition,
    contentLanguage: response.ContentLanguage,
    cacheControl: response.CacheControl,
    expires: response.ExpiresString,
    metadata,
    tags: Object.fromEntries((tagging.TagSet ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? ''])),
  };
}

/**
 * Resolves when the backup of every key looks exactly like its source (both absent counts);
 * throws naming the first that differs otherwise (for `eventually`).
 */
export async function assertMirrored(bed: CephBed, keys: readonly string[]): Promise<void> {
  for (const key of keys) {
    const [expected, actual] = await Promise.all([
      viewObject(bed.source, bed.sourceBucket, key),
      viewObject(bed.backup, bed.backupBucket, bed.backupKey(key)),
    ]);
    if (JSON.stringify(expected) !== JSON.stringify(actual)) {
      throw new Error(
        `backup of ${JSON.stringify(key.slice(0, 80))} differs:\n source ${JSON.stringify(expected)}\n backup ${JSON.stringify(actual)}`,
      );
    }
  }
}
