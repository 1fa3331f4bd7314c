import { once } from 'node:events';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { S3Client } from '@aws-sdk/client-s3';
import { parseDurationMs } from '@s3relay/core';
import { topologyNames, type TopologyNames } from '@s3relay/core/amqp';
import { startEmulator, type DeliveryOptions, type Emulator } from '@s3relay/emulator';
import type { PrivateRabbit } from '../helpers/private-rabbit.js';
import { deleteQueuesWithPrefix, uniquePrefix } from '../helpers/rabbit.js';
import type { RabbitmqctlTarget } from '../helpers/rabbitmqctl.js';
import { startS3Proxy, type S3Proxy } from '../helpers/s3-proxy.js';
import { createTestS3Client, s3Env, startS3Server, type TestS3 } from '../helpers/s3.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { ProcessGroup, type ServiceProcess } from './service-process.js';
import { startWebhookRecorder, type WebhookRecorder } from './webhook-recorder.js';

export const SOURCE_BUCKET = 'source';
export const BACKUP_BUCKET = 'backup';
/** What the backup answers for poisoned keys, and the code their tasks must be parked with. */
export const POISON_PATTERN = /^poison\//;
export const POISON_CODE = 'RELAY_S3_ACCESS_DENIED';

/** The broker a scenario runs against. */
export interface BrokerTarget {
  readonly url: string;
  /** How rabbitmqctl reaches its node. */
  readonly ctl: RabbitmqctlTarget;
  /** Set when it is a private node the scenario may stop, kill or alarm. */
  readonly node?: PrivateRabbit;
}

export interface StackOptions {
  readonly label: string;
  readonly logDir: string;
  readonly broker: BrokerTarget;
  readonly workers: number;
  /** Put a TCP proxy between every service and the broker (to black-hole it). */
  readonly brokerProxy?: boolean;
  /** The source's webhook delivery (retries, duplicates, reordering). */
  readonly delivery?: DeliveryOptions;
  /** Variables for every service, over the suite's defaults. */
  readonly env?: Readonly<Record<string, string>>;
}

/** The whole pipeline of one scenario, every part reachable for faults and observation. */
export interface Stack {
  readonly prefix: string;
  readonly names: TopologyNames;
  readonly broker: BrokerTarget;
  readonly brokerProxy: TcpProxy | undefined;
  /** The emulated VK Cloud source, pushing webhooks through the recorder to the ingress. */
  readonly source: Emulator;
  readonly sourceClient: S3Client;
  /** The backup s3rver (read directly, never through the proxy). */
  readonly backup: TestS3;
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
    const backupProxy = await startS3Proxy({ endpoint: backup.endpoint });
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
    let brokerProxy: TcpProxy | undefined;
    let amqpUrl = options.broker.url;
    if (options.brokerProxy === true) {
      const target = new URL(options.broker.url);
      brokerProxy = await startTcpProxy({ port: Number(target.port || 5672) });
      const started = brokerProxy;
      cleanups.push(['broker TCP proxy', () => started.close()]);
      amqpUrl = brokerProxy.url(options.broker.url);
    }
    const ingressPort = await freePort();
    const recorder = await startWebhookRecorder(ingressPort);
    cleanups.push(['webhook recorder', () => recorder.close()]);
    const webhookUrl = `${recorder.url}/webhook/mcs`;
    const env: Record<string, string> = {
      ...DEFAULT_ENV,
      AMQP_URL: amqpUrl,
      AMQP_PREFIX: prefix,
      HTTP_PORT: String(ingressPort),
      PUBLIC_URLS: webhookUrl,
      SOURCE_BUCKETS: SOURCE_BUCKET,
      ...s3Env('SOURCE', source.endpoint),
      SOURCE_S3_REGION: source.region,
      SOURCE_S3_ACCESS_KEY_ID: source.credentials.accessKeyId,
      SOURCE_S3_SECRET_ACCESS_KEY: source.credentials.secretAccessKey,
      ...s3Env('DEST', backupProxy.endpoint),
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
    // As a user would, through the emulator's S3 API: the VK handshake goes recorder → ingress.
    await source.registerWebhook(SOURCE_BUCKET, webhookUrl);

    let closing: Promise<readonly string[]> | undefined;
    return {
      prefix,
      names: topologyNames({
        prefix,
        retryDelaysMs: (env.RETRY_DELAYS ?? '').split(',').map(parseDurationMs),
      }),
      broker: options.broker,
      brokerProxy,
      source,
      sourceClient,
      backup,
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

/** A client for the backup's server itself, bypassing the proxy's faults. */
export function backupClient(stack: Stack): S3Client {
  return createTestS3Client(stack.backup.endpoint);
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
