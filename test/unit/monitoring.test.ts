import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MONITORING_DIR, monitoringExpressions, vectorSelectors } from '../support/promql.js';

// deploy/monitoring checked with Prometheus's own tool (Debian's `prometheus` package, which
// .ci/run installs): the config and the rules load, and every alert fires on its situation and
// not on a healthy one (alerts.test.yml). That every metric they use exists in the services'
// real /metrics output is test/integration/monitoring-metrics.test.ts.

const promtool = (args: readonly string[]) =>
  spawnSync('promtool', args, { cwd: MONITORING_DIR, encoding: 'utf8' });

interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: { readonly uid: string };
  readonly targets?: readonly { readonly expr: string; readonly refId: string }[];
}

const dashboard = JSON.parse(
  readFileSync(`${MONITORING_DIR}grafana/s3relay-dashboard.json`, 'utf8'),
) as { uid: string; panels: Panel[]; templating: { list: { name: string; type: string }[] } };

describe('deploy/monitoring', () => {
  it('promtool is installed (apt-get install prometheus, as .ci/run does)', () => {
    expect(() => execFileSync('promtool', ['--version'], { stdio: 'pipe' })).not.toThrow();
  });

  it('has a Prometheus config that loads with its rules', () => {
    const run = promtool(['check', 'config', 'prometheus.yml']);
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('SUCCESS: 1 rule files found');
  });

  it('has alert rules for lag, piling tasks, DLQ growth, held deletes and missing consumers', () => {
    const run = promtool(['check', 'rules', 'alerts.yml']);
    expect(run.status, run.stdout + run.stderr).toBe(0);
    const alerts = monitoringExpressions()
      .filter((e) => e.where.startsWith('alert '))
      .map((e) => e.where.slice('alert '.length));
    expect(alerts).toEqual(
      expect.arrayContaining([
        'S3relayReplicationLagHigh',
        'S3relayTasksPiling',
        'S3relayDeadLettersGrowing',
        'S3relayDeletesHeld',
        'S3relayNoConsumers',
      ]),
    );
  });

  it('fires every alert on its situation and not on a healthy one (promtool test rules)', () => {
    const run = promtool(['test', 'rules', 'alerts.test.yml']);
    expect(run.status, run.stdout + run.stderr).toBe(0);
    // Every alert has a test.
    const tested = readFileSync(`${MONITORING_DIR}alerts.test.yml`, 'utf8');
    for (const { where } of monitoringExpressions().filter((e) => e.where.startsWith('alert '))) {
      expect(tested).toContain(`alertname: ${where.slice('alert '.length)}`);
    }
  });

  it('refuses a broken rule, so a pass means something', () => {
    const broken = readFileSync(`${MONITORING_DIR}alerts.yml`, 'utf8').replace(
      'rate(s3relay_worker_replication_lag_seconds_bucket[10m])',
      'rate(s3relay_worker_replication_lag_seconds_bucket[10m)',
    );
    const run = spawnSync('promtool', ['check', 'rules'], { input: broken, encoding: 'utf8' });
    expect(run.status).not.toBe(0);
  });
});

describe('the Grafana dashboard', () => {
  const panels = dashboard.panels.filter((panel) => panel.type !== 'row');

  it('asks for the data source, the AMQP_PREFIX and the job names instead of assuming them', () => {
    expect(dashboard.templating.list.map((v) => [v.name, v.type])).toEqual([
      ['datasource', 'datasource'],
      ['prefix', 'textbox'],
      ['worker_job', 'textbox'],
      ['ingress_job', 'textbox'],
    ]);
    for (const panel of panels) expect(panel.datasource?.uid, panel.title).toBe('${datasource}');
  });

  it('gives every panel a unique id and at least one query', () => {
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of panels) expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
  });

  it('shows throughput, lag percentiles, failures by code, DLQ, held and queue depths', () => {
    const selected = new Set(
      monitoringExpressions()
        .filter((e) => e.where.startsWith('panel '))
        .flatMap((e) => vectorSelectors(e.expr).map((selector) => selector.split('{')[0])),
    );
    for (const metric of [
      's3relay_worker_tasks_total',
      's3relay_worker_bytes_copied_total',
      's3relay_ingress_requests_total',
      's3relay_worker_replication_lag_seconds_bucket',
      's3relay_worker_retries_total',
      's3relay_worker_dead_letters_total',
      'rabbitmq_detailed_queue_messages_ready',
      'rabbitmq_detailed_queue_messages',
      'rabbitmq_detailed_queue_consumers',
    ]) {
      expect(selected, metric).toContain(metric);
    }
    const text = JSON.stringify(dashboard);
    expect(text).toContain('$prefix.dlq');
    expect(text).toContain('$prefix.held');
    expect(text).toMatch(/histogram_quantile\(0\.99/);
  });
});
