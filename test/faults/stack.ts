import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { S3Client } from '@aws-sdk/client-s3';
import { parseDurationMs } from '@s3relay/core';
import { topologyNames, type TopologyNames } from '@s3relay/core/amqp';
import { startEmulator, type DeliveryOptions } from '@s3relay/emulator';
import {
  createBucket,
  createCephTopic,
  deleteBucket,
  deleteCephTopic,
  notifyBucket,
  openUploads,
} from '../helpers/ceph-buckets.js';
import { cephClient, cephEnv, type CephConnection } from '../helpers/ceph-rgw.js';
import type { PrivateRabbit } from '../helpers/private-rabbit.js';
import type { RabbitCluster } from '../helpers/rabbit-cluster.js';
import { deleteQueuesWithPrefix, uniquePrefix } from '../helpers/rabbit.js';
import type { RabbitmqctlTarget } from '../helpers/rabbitmqctl.js';
import { startS3Proxy, type S3Proxy } from '../helpers/s3-proxy.js';
import { createTestS3Client, s3Env, startS3Server } from '../helpers/s3.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { ProcessGroup, type ServiceProcess } from './service-process.js';
import {
  startWebhookRecorder,
  type RecorderChaos,
  type WebhookRecorder,
} from './webhook-recorder.js';

export const SOURCE_BUCKET = 'source';
export const BACKUP_BUCKET = 'backup';
/** What the backup answers for poisoned keys, and the code their tasks must be parked with. */
export const POISON_PATTERN = /^poison\//;
export const POISON_CODE = 'RELAY_S3_ACCESS_DENIED';

/** The broker a scenario runs against. */
export interface BrokerTarget {
  /** Where the suite itself connects (for a cluster: a node that is up now). */
  readonly url: string;
  /** How rabbitmqctl reaches its node (for a cluster: a node that is up now). */
  readonly ctl: RabbitmqctlTarget;
  /** Set when it is a private node the scenario may stop, kill or alarm. */
  readonly node?: PrivateRabbit;
  /** Set when it is the local cluster: the services get the URL of every node. */
  readonly cluster?: RabbitCluster;
}

export interface StackOptions {
  readonly label: string;
  readonly logDir: string;
  readonly broker: BrokerTarget;
  readonly workers: number;
  /** Put a TCP proxy between every service and the broker, one per node (to black-hole it). */
  readonly brokerProxy?: boolean;
  /** The source's webhook delivery (retries, duplicates, reordering). */
  readonly delivery?: DeliveryOptions;
  /**
   * A Ceph cluster to use instead of the emulator and s3rver: the source is a bucket of its user
   * `source` whose real notifications push to the ingress, the backup a bucket of user `backup`
   * (still behind the fault proxy, which passes multipart operations through to Ceph).
   */
  readonly ceph?: CephConnection;
  /** Duplicates the recorder adds (for Ceph, which sends each event once). */
  readonly chaos?: RecorderChaos;
  /** Variables for every service, over the suite's defaults. */
  readonly env?: Readonly<Record<string, string>>;
}

/** The whole pipeline of one scenario, every part reachable for faults and observation. */
export interface Stack {
  readonly prefix: string;
  readonly names: TopologyNames;
  readonly broker: BrokerTarget;
  /** The proxy in front of the broker (the first node's, for a cluster). */
  readonly brokerProxy: TcpProxy | undefined;
  /** One proxy per node, in node order (one for a single broker); empty without proxies. */
  readonly brokerProxies: readonly TcpProxy[];
  /** What sends the webhooks: the emulator's delivery queue, or for Ceph the recorder's own. */
  readonly source: WebhookSender;
  readonly sourceClient: S3Client;
  /** The servers the suite itself runs, by name, to watch that they keep accepting. */
  readonly servers: Readonly<Record<string, number>>;
  /** A client for the backup store itself, bypassing the proxy's faults; the caller destroys it. */
  backupReader(): S3Client;
  /** Multipart uploads open on the backup, as the store (or for s3rver, the proxy) knows them. */
  openUploads(): Promise<readonly { key: string; uploadId: string }[]>;
  /** What the workers and the janitor talk to: faults and bookkeeping of multipart uploads. */
  readonly backupProxy: S3Proxy;
  readonly recorder: WebhookRecorder;
  readonly group: ProcessGroup;
  /** Every service's environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly ingress: ServiceProcess;
  readonly workers: readonly ServiceProcess[];
  /** Starts (again) the ingress on its port; resolves when ready. */
  startIngress(): Promise<ServiceProcess>;
  /** Starts worker `index` (again, after a kill); resolves once it consumes. */
  startWorker(index: number, waitReady?: boolean): Promise<ServiceProcess>;
  /**
   * Stops everything and deletes the scenario's queues; idempotent. Resolves with the parts that
   * did not stop in time (a hang to report).
   */
  close(): Promise<readonly string[]>;
}

/** What a scenario asks of the webhook sender. */
export interface WebhookSender {
  stats(): { readonly queued: number; readonly inFlight: number; readonly dropped: number };
  /** Resolves once every webhook was delivered or given up. */
  idle(timeoutMs?: number): Promise<void>;
}

/** The services' settings every scenario shares; scenarios override some. */
const DEFAULT_ENV: Readonly<Record<string, string>> = {
  AMQP_HEARTBEAT_SECONDS: '5',
  PUBLISH_TIMEOUT_MS: '2000',
  RETRY_DELAYS: '500ms,1s,2s,5s',
  MAX_ATTEMPTS: '15',
  WORKER_CONCURRENCY: '4',
  PART_SIZE_MB: '5',
  PART_QUEUE_SIZE: '2',
  SOURCE_IDLE_TIMEOUT_MS: '5000',
  SHUTDOWN_TIMEOUT_MS: '5000',
  REPLICATE_DELETES: 'true',
  METRICS_PORT: '0',
  HTTP_METRICS_PORT: '0',
  METRICS_HOST: '127.0.0.1',
  HTTP_HOST: '127.0.0.1',
  LOG_LEVEL: 'info',
  LOG_FORMAT: 'json',
};

const READY_TIMEOUT_MS = 60_000;
/** Each part of the stack gets this long to stop. */
const CLEANUP_STEP_TIMEOUT_MS = 30_000;

/** Starts the source, the backup, the recorder, the ingress and the workers, and registers the webhook. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const prefix = uniquePrefix(`faults-${options.label}`);
  const cleanups: [string, () => Promise<unknown>][] = [];
  const hung: string[] = [];
  /** Every part is stopped, each within a bound: a part that hangs is reported, not waited for. */
  const closeAll = async () => {
    for (const [name, cleanup] of cleanups.reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const done = await Promise.race([
        cleanup().then(
          () => true,
          () => true,
        ),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), CLEANUP_STEP_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
      if (!done) hung.push(name);
    }
    return hung;
  };
  try {
    const ingressPort = await freePort();
    const recorder = await startWebhookRecorder(ingressPort, {
      source: options.ceph === undefined ? 'vk' : 'ceph',
      ...(options.chaos === undefined ? {} : { chaos: options.chaos }),
    });
    cleanups.push(['webhook recorder', () => recorder.close()]);
    const sides =
      options.ceph === undefined
        ? await emulatorSides(options, recorder, cleanups)
        : await cephSides(options.ceph, options.label, recorder, cleanups);
    const backupProxy = await startS3Proxy({
      endpoint: sides.backupEndpoint,
      emulateMultipart: options.ceph === undefined,
    });
    cleanups.push(['backup S3 proxy', () => backupProxy.close()]);
    backupProxy.addFault({
      op: 'PutObject',
      key: POISON_PATTERN,
      action: { type: 'status', status: 403 },
    });
    backupProxy.addFault({
      op: 'CreateMultipartUpload',
      key: POISON_PATTERN,
      action: { type: 'status', status: 403 },
    });
    const nodeUrls = options.broker.cluster?.urls ?? [options.broker.url];
    const brokerProxies: TcpProxy[] = [];
    let serviceUrls = nodeUrls;
    if (options.brokerProxy === true) {
      for (const url of nodeUrls) {
        const proxy = await startTcpProxy({ port: Number(new URL(url).port || 5672) });
        brokerProxies.push(proxy);
        cleanups.push(['broker TCP proxy', () => proxy.close()]);
      }
      serviceUrls = nodeUrls.map((url, index) => brokerProxies[index]?.url(url) ?? url);
    }
    const env: Record<string, string> = {
      ...DEFAULT_ENV,
      AMQP_URL: serviceUrls.join(','),
      AMQP_PREFIX: prefix,
      HTTP_PORT: String(ingressPort),
      SOURCE_BUCKETS: SOURCE_BUCKET,
      ...sides.env,
      ...sides.destEnv(backupProxy.endpoint),
      DEST_BUCKET: BACKUP_BUCKET,
      DEST_PREFIX: '',
      ...options.env,
    };
    const group = new ProcessGroup(options.logDir, env);
    cleanups.push(['queues', () => deleteQueuesWithPrefix(options.broker.url, prefix)]);
    cleanups.push(['services', () => group.stopAll(10_000)]);

    let ingress: ServiceProcess | undefined;
    let ingressRuns = 0;
    const startIngress = async () => {
      ingressRuns += 1;
      const started = group.start(ingressRuns === 1 ? 'ingress' : `ingress-${ingressRuns}`, [
        'ingress',
      ]);
      ingress = started;
      await waitReady(`http://127.0.0.1:${ingressPort}/readyz`, started);
      return started;
    };
    const workers: ServiceProcess[] = [];
    const runs = new Map<number, number>();
    const startWorker = async (index: number, wait = true) => {
      const run = (runs.get(index) ?? 0) + 1;
      runs.set(index, run);
      const name = run === 1 ? `worker-${index + 1}` : `worker-${index + 1}.${run}`;
      const worker = group.start(name, ['worker']);
      workers[index] = worker;
      if (wait) await worker.waitForLine(/"message":"worker started"/, READY_TIMEOUT_MS);
      return worker;
    };
    await Promise.all([
      startIngress(),
      ...Array.from({ length: options.workers }, (_, index) => startWorker(index)),
    ]);
    await sides.register();

    let closing: Promise<readonly string[]> | undefined;
    return {
      prefix,
      names: topologyNames({
        prefix,
        retryDelaysMs: (env.RETRY_DELAYS ?? '').split(',').map(parseDurationMs),
      }),
      broker: options.broker,
      brokerProxy: brokerProxies[0],
      brokerProxies,
      source: sides.sender,
      sourceClient: sides.sourceClient,
      servers: sides.servers,
      backupReader: () => sides.backupReader(),
      openUploads: sides.openUploads ?? (() => Promise.resolve(backupProxy.openMultipartUploads())),
      backupProxy,
      recorder,
      group,
      env,
      get ingress() {
        if (ingress === undefined) throw new Error('the ingress was not started');
        return ingress;
      },
      workers,
      startIngress,
      startWorker,
      close() {
        closing ??= closeAll();
        return closing;
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** The source and the backup a stack runs between. */
interface Sides {
  readonly sender: WebhookSender;
  readonly sourceClient: S3Client;
  /** The services' source variables (and the webhook URL the ingress signs, for VK). */
  readonly env: Record<string, string>;
  /** Where the backup proxy forwards to. */
  readonly backupEndpoint: string;
  /** The services' backup variables, pointing at the proxy. */
  destEnv(proxyEndpoint: string): Record<string, string>;
  readonly servers: Record<string, number>;
  readonly backupReader: () => S3Client;
  /** The store's own listing of open uploads, when it has one. */
  readonly openUploads?: () => Promise<readonly { key: string; uploadId: string }[]>;
  /** Points the source's webhooks at the ingress (once it answers). */
  register(): Promise<void>;
}

/** The emulated VK Cloud source and an s3rver backup. */
async function emulatorSides(
  options: StackOptions,
  recorder: WebhookRecorder,
  cleanups: [string, () => Promise<unknown>][],
): Promise<Sides> {
  const source = await startEmulator({
    buckets: [SOURCE_BUCKET],
    ...(options.delivery === undefined ? {} : { delivery: options.delivery }),
  });
  cleanups.push(['source emulator', () => source.close()]);
  const sourceClient = new S3Client({
    endpoint: source.endpoint,
    region: source.region,
    forcePathStyle: true,
    credentials: source.credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  cleanups.push(['source client', () => Promise.resolve(sourceClient.destroy())]);
  const backup = await startS3Server({ buckets: [BACKUP_BUCKET] });
  cleanups.push(['backup s3rver', () => backup.close()]);
  const webhookUrl = `${recorder.url}/webhook/mcs`;
  return {
    sender: source,
    sourceClient,
    env: {
      PUBLIC_URLS: webhookUrl,
      ...s3Env('SOURCE', source.endpoint),
      SOURCE_S3_REGION: source.region,
      SOURCE_S3_ACCESS_KEY_ID: source.credentials.accessKeyId,
      SOURCE_S3_SECRET_ACCESS_KEY: source.credentials.secretAccessKey,
    },
    backupEndpoint: backup.endpoint,
    destEnv: (proxyEndpoint) => s3Env('DEST', proxyEndpoint),
    servers: { 'the backup s3rver': backup.port, 'the source emulator': source.port },
    backupReader: () => createTestS3Client(backup.endpoint),
    // As a user would, through the emulator's S3 API: the VK handshake goes recorder → ingress.
    register: () => source.registerWebhook(SOURCE_BUCKET, webhookUrl),
  };
}

/**
 * Buckets of the two Ceph users, the source's real notifications pushed through the recorder
 * (a non-persistent topic: each event once, inside the S3 request; the recorder adds the
 * duplicates), the token in the push endpoint's path as Ceph sends no credentials.
 */
async function cephSides(
  ceph: CephConnection,
  label: string,
  recorder: WebhookRecorder,
  cleanups: [string, () => Promise<unknown>][],
): Promise<Sides> {
  const sourceClient = cephClient(ceph.endpoint, ceph.users.source);
  cleanups.push(['source client', () => Promise.resolve(sourceClient.destroy())]);
  const backupAdmin = cephClient(ceph.endpoint, ceph.users.backup);
  cleanups.push(['backup client', () => Promise.resolve(backupAdmin.destroy())]);
  await createBucket(sourceClient, SOURCE_BUCKET);
  cleanups.push(['source bucket', () => deleteBucket(sourceClient, SOURCE_BUCKET)]);
  await createBucket(backupAdmin, BACKUP_BUCKET);
  cleanups.push(['backup bucket', () => deleteBucket(backupAdmin, BACKUP_BUCKET)]);
  const token = randomBytes(12).toString('hex');
  const gateway = Number(new URL(ceph.endpoint).port);
  return {
    sender: recorder,
    sourceClient,
    env: { WEBHOOK_TOKEN: token, ...cephEnv('SOURCE', ceph.endpoint, ceph.users.source) },
    backupEndpoint: ceph.endpoint,
    destEnv: (proxyEndpoint) => cephEnv('DEST', proxyEndpoint, ceph.users.backup),
    servers: { 'the Ceph gateway': gateway },
    backupReader: () => cephClient(ceph.endpoint, ceph.users.backup),
    openUploads: () => openUploads(backupAdmin, BACKUP_BUCKET),
    async register() {
      const arn = await createCephTopic({
        endpoint: ceph.endpoint,
        user: ceph.users.source,
        name: `s3relay-faults-${label}`,
        pushEndpoint: `${recorder.url}/webhook/ceph/${token}`,
        persistent: false,
      });
      cleanups.push(['topic', () => deleteCephTopic(ceph.endpoint, ceph.users.source, arn)]);
      await notifyBucket(sourceClient, SOURCE_BUCKET, arn);
    },
  };
}

async function waitReady(url: string, service: ServiceProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (!service.alive)
      throw new Error(`${service.name} exited before it was ready:\n${service.tail()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await sleep(200);
  }
  throw new Error(`${service.name} not ready within ${READY_TIMEOUT_MS} ms:\n${service.tail()}`);
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
