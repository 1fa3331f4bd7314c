/**
 * Every metric the Grafana dashboard and the alert rules (deploy/monitoring) use exists in what
 * the running services and RabbitMQ really export. A real Prometheus (Debian's) scrapes a worker,
 * an ingress and a private RabbitMQ node with the rabbitmq_prometheus plugin, and loads the rules
 * file (it refuses to start on a broken one); after some real work (copies, a retry, a parked
 * task, webhooks accepted and refused) every expression must be valid PromQL and every selector
 * in it must select at least one series.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, silentLogger } from '@s3relay/core';
import { createIngress, type Ingress } from '@s3relay/ingress';
import { createWorker, type Worker } from '@s3relay/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/ports.js';
import { startPrivateRabbit, type PrivateRabbit } from '../helpers/private-rabbit.js';
import { publishToQueue, uniquePrefix } from '../helpers/rabbit.js';
import { startS3Proxy, type S3Proxy } from '../helpers/s3-proxy.js';
import { putObject, s3Env, startS3Server, type TestS3 } from '../helpers/s3.js';
import {
  MONITORING_DIR,
  monitoringExpressions,
  vectorSelectors,
  withVariables,
} from '../support/promql.js';
import { awsRecord } from '../support/ingress-bed.js';
import { eventTask } from '../support/worker-bed.js';

const PROMETHEUS = '/usr/bin/prometheus';

interface QueryAnswer {
  readonly status: string;
  readonly error?: string;
  readonly data?: { readonly result: readonly unknown[] };
}

describe('the metrics of the dashboard and the alert rules', () => {
  const prefix = uniquePrefix('monitoring');
  let rabbit: PrivateRabbit;
  let source: TestS3;
  let backup: TestS3;
  let proxy: S3Proxy;
  let worker: Worker;
  const ingresses: Ingress[] = [];
  let prometheus: ChildProcess | undefined;
  let prometheusUrl: string;
  let work: string;

  const query = async (promql: string): Promise<QueryAnswer> => {
    const response = await fetch(
      `${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`,
    );
    return (await response.json()) as QueryAnswer;
  };

  beforeAll(async () => {
    const rabbitMetricsPort = await freePort();
    rabbit = await startPrivateRabbit({ prometheusPort: rabbitMetricsPort });
    [source, backup] = await Promise.all([
      startS3Server({ buckets: ['source'] }),
      startS3Server({ buckets: ['backup'] }),
    ]);
    proxy = await startS3Proxy({ endpoint: backup.endpoint });
    // Nobody listens there: the second ingress's broker is gone.
    const deadBroker = await freePort();
    const env = {
      AMQP_URL: rabbit.url,
      AMQP_PREFIX: prefix,
      RETRY_DELAYS: '200ms',
      METRICS_HOST: '127.0.0.1',
      METRICS_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      HTTP_METRICS_PORT: '0',
      ...s3Env('SOURCE', source.endpoint),
      ...s3Env('DEST', proxy.endpoint),
      DEST_BUCKET: 'backup',
      SOURCE_BUCKETS: 'source',
      TELEMETRY_INTERVAL_MS: '0',
    };
    worker = createWorker({ config: loadConfig(env), logger: silentLogger });
    await worker.start();
    ingresses.push(createIngress({ config: loadConfig(env), logger: silentLogger }));
    // An ingress whose broker is gone: it answers webhooks 503, counted as `unavailable`.
    ingresses.push(
      createIngress({
        config: loadConfig({
          ...env,
          AMQP_URL: `amqp://guest:guest@127.0.0.1:${deadBroker}`,
        }),
        logger: silentLogger,
      }),
    );
    for (const ingress of ingresses) await ingress.start();
    work = await mkdtemp(join(tmpdir(), 's3relay-prometheus-'));
    const prometheusPort = await freePort();
    prometheusUrl = `http://127.0.0.1:${prometheusPort}`;
    const target = (port: number | undefined) => {
      if (port === undefined) throw new Error('a service is not listening');
      return `127.0.0.1:${port}`;
    };
    await writeFile(
      join(work, 'prometheus.yml'),
      JSON.stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        // The repository's rules: Prometheus refuses to start on a broken rules file.
        rule_files: [`${MONITORING_DIR}alerts.yml`],
        scrape_configs: [
          {
            job_name: 's3relay-ingress',
            static_configs: [{ targets: ingresses.map((ingress) => target(ingress.metricsPort)) }],
          },
          {
            job_name: 's3relay-worker',
            static_configs: [{ targets: [target(worker.metricsPort)] }],
          },
          {
            // As deploy/monitoring/prometheus.yml scrapes it.
            job_name: 'rabbitmq',
            metrics_path: '/metrics/detailed',
            params: { family: ['queue_coarse_metrics', 'queue_consumer_count'] },
            static_configs: [{ targets: [target(rabbitMetricsPort)] }],
          },
        ],
      }),
    );
    let log = '';
    prometheus = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(work, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(work, 'data')}`,
        `--web.listen-address=127.0.0.1:${prometheusPort}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    await eventually(
      async () => {
        expect(prometheus?.exitCode, log).toBeNull();
        expect((await fetch(`${prometheusUrl}/-/ready`)).status).toBe(200);
      },
      { timeoutMs: 30_000, message: 'Prometheus did not start' },
    );

    // Real work: copies, a retry (one 503), a parked task (403), webhooks accepted and refused.
    proxy.addFault({
      op: 'PutObject',
      key: 'retried.txt',
      times: 1,
      action: { type: 'status', status: 503 },
    });
    proxy.addFault({ op: 'PutObject', key: 'parked.txt', action: { type: 'status', status: 403 } });
    for (const key of ['copied.txt', 'retried.txt', 'parked.txt']) {
      await putObject(source.client, 'source', key, Buffer.from(key));
    }
    await publishToQueue(
      rabbit.url,
      `${prefix}.tasks`,
      ['copied.txt', 'retried.txt', 'parked.txt'].map((key) => {
        const task = eventTask(key, 'created', { bucket: 'source' });
        return { content: JSON.stringify(task), options: { messageId: task.id } };
      }),
    );
    for (const { url } of ingresses) {
      if (url === undefined) throw new Error('an ingress is not listening');
      await fetch(`${url}/webhook/s3`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ Records: [awsRecord('webhook.txt', 'source')] }),
      });
    }
  }, 120_000);

  afterAll(async () => {
    prometheus?.kill('SIGKILL');
    for (const ingress of ingresses) await ingress.close();
    await worker?.close();
    await proxy?.close();
    await Promise.all([source?.close(), backup?.close()]);
    await rabbit?.dispose();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('finds every selector in the real scrape, and every expression is valid PromQL', async () => {
    const expressions = monitoringExpressions();
    expect(expressions.length).toBeGreaterThanOrEqual(30);
    await eventually(
      async () => {
        const problems: string[] = [];
        for (const { where, expr } of expressions) {
          const filled = withVariables(expr, prefix);
          const whole = await query(filled);
          if (whole.status !== 'success') problems.push(`${where}: ${whole.error ?? 'failed'}`);
          for (const selector of vectorSelectors(filled)) {
            const answer = await query(selector);
            if ((answer.data?.result.length ?? 0) === 0) problems.push(`${where}: no ${selector}`);
          }
        }
        expect(problems).toEqual([]);
      },
      { timeoutMs: 60_000, intervalMs: 2000, message: 'the monitoring selects what is not there' },
    );
  });

  it('loaded every alert rule', async () => {
    const rules = (await (await fetch(`${prometheusUrl}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string }[] }[] };
    };
    const loaded = rules.data.groups.flatMap((group) => group.rules);
    const expected = monitoringExpressions().filter((e) => e.where.startsWith('alert '));
    expect(loaded.map((rule) => `alert ${rule.name}`).sort()).toEqual(
      expected.map((e) => e.where).sort(),
    );
    await eventually(async () => {
      const again = (await (await fetch(`${prometheusUrl}/api/v1/rules`)).json()) as typeof rules;
      const health = again.data.groups.flatMap((g) => g.rules).map((r) => r.health);
      expect(health.every((h) => h === 'ok')).toBe(true);
    });
  });
});
