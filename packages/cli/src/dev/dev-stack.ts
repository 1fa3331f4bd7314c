import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Emulator } from '@s3relay/emulator';
import { CliError, ExitCode } from '../exit-codes.js';
import { startChildService, type ChildService } from './child-service.js';
import { assertPortsFree, type StackPort } from './free-ports.js';
import type { StartEmulator } from './load-emulator.js';

export interface DevStackOptions {
  /** The emulator's start, loaded by the caller (`loadEmulator`). */
  readonly startEmulator: StartEmulator;
  readonly amqpUrl: string;
  readonly amqpPrefix: string;
  readonly sourceBucket: string;
  readonly backupBucket: string;
  readonly sourcePort: number;
  readonly backupPort: number;
  readonly ingressPort: number;
  /** Workers' metrics ports are this, this + 1, …; the ingress's follows theirs. */
  readonly metricsPort: number;
  readonly consolePort: number;
  readonly workers: number;
  /** Where the emulated buckets keep their objects between runs. */
  readonly dataDir: string;
  /** Every line the services log. */
  readonly write: (line: string) => void;
  /** Where `write` goes takes colours (a terminal): the services may colour their lines. */
  readonly colors: boolean;
}

/** The running local stack and where to reach each part. */
export interface DevStack {
  readonly source: Emulator;
  readonly backup: Emulator;
  readonly ingressUrl: string;
  readonly webhookUrl: string;
  /** Where the ingress serves /metrics (its port after the workers'). */
  readonly ingressMetricsUrl: string;
  /** Where each worker serves /metrics. */
  readonly metricsUrls: readonly string[];
  readonly consoleUrl: string;
  readonly services: readonly ChildService[];
  /** The variables the services run with, also written to `<dataDir>/env`. */
  readonly settings: Readonly<Record<string, string>>;
  readonly envFile: string;
  close(): Promise<void>;
}

const HOST = '127.0.0.1';

/**
 * Starts the whole pipeline on this machine: an emulated VK Cloud source bucket, a local backup
 * bucket, the ingress and workers as child processes (as in production), and registers the
 * source's webhook the way VK does (the handshake included). On failure everything started so far
 * is stopped again.
 */
export async function startDevStack(options: DevStackOptions): Promise<DevStack> {
  const started: { close(): Promise<void> }[] = [];
  const closeAll = async () => {
    for (const part of started.reverse()) await part.close().catch(() => undefined);
  };
  await assertPortsFree(HOST, stackPorts(options));
  try {
    const source = await options.startEmulator({
      host: HOST,
      port: options.sourcePort,
      buckets: [options.sourceBucket],
      directory: join(options.dataDir, 'source'),
    });
    started.push(source);
    const backup = await options.startEmulator({
      host: HOST,
      port: options.backupPort,
      buckets: [options.backupBucket],
      directory: join(options.dataDir, 'backup'),
    });
    started.push(backup);

    const ingressUrl = `http://${HOST}:${options.ingressPort}`;
    const webhookUrl = `${ingressUrl}/webhook/mcs`;
    const settings: Record<string, string> = {
      AMQP_URL: options.amqpUrl,
      AMQP_PREFIX: options.amqpPrefix,
      HTTP_HOST: HOST,
      HTTP_PORT: String(options.ingressPort),
      PUBLIC_URLS: webhookUrl,
      SOURCE_BUCKETS: options.sourceBucket,
      SOURCE_S3_ENDPOINT: source.endpoint,
      SOURCE_S3_REGION: source.region,
      SOURCE_S3_ACCESS_KEY_ID: source.credentials.accessKeyId,
      SOURCE_S3_SECRET_ACCESS_KEY: source.credentials.secretAccessKey,
      DEST_S3_ENDPOINT: backup.endpoint,
      DEST_S3_REGION: backup.region,
      DEST_S3_ACCESS_KEY_ID: backup.credentials.accessKeyId,
      DEST_S3_SECRET_ACCESS_KEY: backup.credentials.secretAccessKey,
      DEST_BUCKET: options.backupBucket,
      METRICS_HOST: HOST,
      CONSOLE_HOST: HOST,
      CONSOLE_PORT: String(options.consolePort),
      // Livelier than the default for a demo; production keeps 5 s.
      TELEMETRY_INTERVAL_MS: '2000',
      LOG_FORMAT: 'pretty',
    };
    // Their output reaches the terminal through a pipe, which alone would turn colours off.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...settings,
      ...(options.colors ? { FORCE_COLOR: '1' } : {}),
    };
    await writeFile(
      join(options.dataDir, 'env'),
      Object.entries(settings)
        .map(([name, value]) => `${name}=${value}`)
        .join('\n') + '\n',
      { mode: 0o600 },
    );
    const services: ChildService[] = [];
    const stopServices = {
      close: async () => {
        await Promise.all(services.map((service) => service.stop(30_000)));
      },
    };
    started.push(stopServices);

    const ingressMetricsPort = options.metricsPort + options.workers;
    const ingressMetricsUrl = `http://${HOST}:${ingressMetricsPort}`;
    const ingress = startChildService(
      'ingress',
      ['ingress'],
      { ...env, HTTP_METRICS_PORT: String(ingressMetricsPort) },
      options.write,
    );
    services.push(ingress);
    const metricsUrls: string[] = [];
    for (let index = 0; index < options.workers; index += 1) {
      const port = options.metricsPort + index;
      metricsUrls.push(`http://${HOST}:${port}`);
      services.push(
        startChildService(
          `worker-${index + 1}`,
          ['worker'],
          { ...env, METRICS_PORT: String(port) },
          options.write,
        ),
      );
    }
    const consoleUrl = `http://${HOST}:${options.consolePort}/`;
    const consoleService = startChildService('console', ['console'], env, options.write);
    services.push(consoleService);
    await waitReady(`${ingressUrl}/readyz`, ingress);
    for (const [index, url] of metricsUrls.entries()) {
      const worker = services[index + 1];
      if (worker !== undefined) await waitReady(`${url}/readyz`, worker);
    }
    await waitReady(`${consoleUrl}healthz`, consoleService);
    // Like VK, the emulator calls the ingress during this request and keeps the webhook only
    // when the handshake signature is right.
    await source.registerWebhook(options.sourceBucket, webhookUrl);
    return {
      source,
      backup,
      ingressUrl,
      webhookUrl,
      ingressMetricsUrl,
      metricsUrls,
      consoleUrl,
      services,
      settings,
      envFile: join(options.dataDir, 'env'),
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** Every port the stack listens on, in the order its parts start. */
function stackPorts(options: DevStackOptions): StackPort[] {
  const workers = Array.from({ length: options.workers }, (_, index) => ({
    port: options.metricsPort + index,
    what: `metrics of worker-${index + 1}`,
    flag: '--metrics-port',
  }));
  return [
    { port: options.sourcePort, what: 'source bucket', flag: '--source-port' },
    { port: options.backupPort, what: 'backup bucket', flag: '--backup-port' },
    { port: options.ingressPort, what: 'ingress', flag: '--ingress-port' },
    ...workers,
    {
      port: options.metricsPort + options.workers,
      what: 'metrics of the ingress',
      flag: '--metrics-port',
    },
    { port: options.consolePort, what: 'console', flag: '--console-port' },
  ];
}

async function waitReady(url: string, service: ChildService, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | NodeJS.Signals | undefined;
  void service.exited.then((code) => {
    exited = code;
  });
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      throw new CliError(
        ExitCode.problemsFound,
        `${service.name} exited (${String(exited)}) before it was ready; see its log above`,
      );
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new CliError(
    ExitCode.problemsFound,
    `${service.name} was not ready within ${timeoutMs / 1000} s (${url})`,
  );
}
