import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ProcessGroup, type ServiceProcess } from '../faults/service-process.js';
import { eventually } from '../helpers/eventually.js';
import { statusOnce } from '../helpers/http-once.js';
import { deleteQueuesWithPrefix, rabbitUrl, uniquePrefix } from '../helpers/rabbit.js';

/** An `s3relay ingress` child process on free loopback ports with its own queue prefix. */
export interface IngressProcess {
  readonly process: ServiceProcess;
  /** `http://127.0.0.1:<port>` of the webhook port. */
  readonly url: string;
  /** `http://127.0.0.1:<port>` of the metrics port (HTTP_METRICS_PORT). */
  readonly metricsUrl: string;
  readonly prefix: string;
  /** Every line it wrote so far. */
  output(): string;
  /** Runs another `s3relay` command with the same environment; resolves with its output. */
  run(args: readonly string[]): Promise<{ code: number | null; output: string }>;
}

export interface IngressProcessOptions {
  /** Names the queue prefix. */
  readonly label: string;
  /** Variables on top of the test defaults (loopback, port 0, JSON logs). */
  readonly env?: Record<string, string>;
  /** Receives the cleanup (stop, delete the queues, remove the log directory). */
  readonly cleanups: (() => Promise<void>)[];
}

/** Starts `s3relay ingress` and resolves once it is ready (broker connected). */
export async function startIngressProcess(options: IngressProcessOptions): Promise<IngressProcess> {
  const prefix = uniquePrefix(options.label);
  const logDir = await mkdtemp(join(tmpdir(), 's3relay-ingress-'));
  const env = {
    AMQP_URL: rabbitUrl(),
    AMQP_PREFIX: prefix,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    HTTP_METRICS_PORT: '0',
    LOG_FORMAT: 'json',
    ...options.env,
  };
  const group = new ProcessGroup(logDir, env);
  options.cleanups.push(async () => {
    await group.stopAll(5000);
    await deleteQueuesWithPrefix(rabbitUrl(), prefix);
    await rm(logDir, { recursive: true, force: true });
  });
  const ingress = group.start('ingress', ['ingress']);
  const listening = JSON.parse(await ingress.waitForLine(/"ingress listening"/, 30_000)) as {
    port: number;
    metricsPort: number;
  };
  const url = `http://127.0.0.1:${listening.port}`;
  // Not fetch: its pooled connection would stay open and count against HTTP_MAX_CONNECTIONS.
  await eventually(async () => expect(await statusOnce(`${url}/readyz`)).toBe(200), {
    timeoutMs: 30_000,
    message: `ingress ready:\n${ingress.tail()}`,
  });
  return {
    process: ingress,
    url,
    metricsUrl: `http://127.0.0.1:${listening.metricsPort}`,
    prefix,
    output: () => ingress.tail(Number.MAX_SAFE_INTEGER),
    async run(args) {
      const { exit, output } = await group.run('command', args, {}, 30_000);
      return { code: exit.code, output };
    },
  };
}
