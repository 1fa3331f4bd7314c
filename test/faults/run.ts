/**
 * The fault suite: the whole pipeline (the emulated VK source pushing webhooks, the ingress,
 * workers, RabbitMQ, the backup S3 behind a fault proxy) under one fault per scenario, judged by
 * a ledger of every key at the end (ledger.ts).
 *
 *   npm run test:faults                               CI size, every single-broker scenario
 *   npm run test:faults -- --cluster                  the cluster scenarios, on a local 3-node cluster
 *                                                     (what `npm run test:cluster` runs after its own tier)
 *   npm run test:faults -- --minutes 5                each scenario's load lasts 5 minutes
 *   npm run test:faults -- --scenario storm           one scenario (repeatable)
 *   npm run test:faults -- --record                   also write results/last-run.json (last-cluster-run.json)
 *                                                     and RESULTS.md's figures (cluster figures)
 *   npm run test:faults -- --env REPLICATE_DELETES=false   a service setting over the scenario's
 *                                                     (that one must make the ledger fail: a check of the check)
 *
 * Prints one line per scenario and `N passed, N failed`; exits 1 when any failed.
 */
import { spawnSync } from 'node:child_process';
import { readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as prettier from 'prettier';
import {
  rabbitmqServerInstalled,
  startPrivateRabbit,
  type PrivateRabbit,
} from '../helpers/private-rabbit.js';
import { startRabbitCluster, type RabbitCluster } from '../helpers/rabbit-cluster.js';
import { amqpAnswers, rabbitUrl } from '../helpers/rabbit.js';
import { startCephRgw, type CephRgw } from '../helpers/ceph-rgw.js';
import { rabbitmqctl, targetForUrl } from '../helpers/rabbitmqctl.js';
import {
  runScenario,
  seconds,
  type RunSize,
  type Scenario,
  type ScenarioResult,
} from './scenario.js';
import { backupS3Faults } from './scenarios/backup-s3-faults.js';
import { brokerBlackHoled } from './scenarios/broker-black-holed.js';
import { brokerKilled } from './scenarios/broker-killed.js';
import { clusterFollowerStopped } from './scenarios/cluster-follower-stopped.js';
import { clusterLeaderKilled } from './scenarios/cluster-leader-killed.js';
import { clusterNodeBlackHoled } from './scenarios/cluster-node-black-holed.js';
import { clusterRollingRestart } from './scenarios/cluster-rolling-restart.js';
import { connectionsClosed } from './scenarios/connections-closed.js';
import { ingressDown } from './scenarios/ingress-down.js';
import { memoryAlarm } from './scenarios/memory-alarm.js';
import { storm } from './scenarios/storm.js';
import { stormCeph } from './scenarios/storm-ceph.js';
import { workersKilled } from './scenarios/workers-killed.js';
import { killAllServices } from './service-process.js';
import type { BrokerTarget } from './stack.js';

/** In the order of the issues; the cluster scenarios run with `--cluster`. */
const SCENARIOS: readonly Scenario[] = [
  connectionsClosed,
  brokerKilled,
  memoryAlarm,
  workersKilled,
  brokerBlackHoled,
  backupS3Faults,
  storm,
  stormCeph,
  ingressDown,
  clusterLeaderKilled,
  clusterFollowerStopped,
  clusterRollingRestart,
  clusterNodeBlackHoled,
];

/** The load of one scenario in CI. */
const CI_LOAD_MS = 20_000;
/** No scenario may take longer than this (times the scale): a hang is a failure, not a wait. */
const SCENARIO_HARD_LIMIT_MS = 8 * 60_000;

const HERE = fileURLToPath(new URL('.', import.meta.url));
const LOG_ROOT = `${HERE}results/logs`;
const RESULTS_MD = `${HERE}RESULTS.md`;

/** Where a run is recorded: the single-broker scenarios and the cluster ones apart. */
interface RecordTarget {
  readonly json: string;
  /** The generated section of RESULTS.md (and, through it, of the README). */
  readonly section: string;
}
const RECORDS: Record<'single' | 'cluster', RecordTarget> = {
  single: { json: `${HERE}results/last-run.json`, section: 'figures' },
  cluster: { json: `${HERE}results/last-cluster-run.json`, section: 'cluster-figures' },
};

const write = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string' },
      scenario: { type: 'string', multiple: true },
      record: { type: 'boolean', default: false },
      env: { type: 'string', multiple: true },
      list: { type: 'boolean', default: false },
      cluster: { type: 'boolean', default: false },
    },
  });
  if (values.list) {
    for (const scenario of SCENARIOS) write(`${scenario.name}: ${scenario.fault}`);
    return 0;
  }
  const minutes = values.minutes === undefined ? undefined : Number(values.minutes);
  if (minutes !== undefined && !(minutes > 0)) throw new Error('--minutes takes a positive number');
  const loadMs = minutes === undefined ? CI_LOAD_MS : minutes * 60_000;
  const size: RunSize = { loadMs, scale: loadMs / CI_LOAD_MS };
  const wanted = values.scenario ?? [];
  const unknown = wanted.filter((name) => !SCENARIOS.some((s) => s.name === name));
  if (unknown.length > 0) {
    throw new Error(
      `unknown scenario ${unknown.join(', ')}; one of ${SCENARIOS.map((s) => s.name).join(', ')}`,
    );
  }
  const selected =
    wanted.length === 0
      ? SCENARIOS.filter((s) => (s.broker === 'cluster') === values.cluster)
      : SCENARIOS.filter((s) => wanted.includes(s.name));
  const clusterRun = selected.every((s) => s.broker === 'cluster');
  if (values.record && !clusterRun && selected.some((s) => s.broker === 'cluster')) {
    throw new Error('--record takes either cluster scenarios or single-broker ones, not both');
  }
  const env = Object.fromEntries(
    (values.env ?? []).map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1) throw new Error(`--env takes NAME=value, not ${pair}`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );

  const started = Date.now();
  write(`fault suite: ${selected.length} scenarios, load ${seconds(loadMs)} each`);
  if (!checkLedger()) {
    write("the ledger's own tests failed: no scenario can be judged");
    write('0 passed, 1 failed');
    return 1;
  }

  await rm(LOG_ROOT, { recursive: true, force: true });
  let node: PrivateRabbit | undefined;
  let ceph: CephRgw | undefined;
  let cluster: RabbitCluster | undefined;
  const results: ScenarioResult[] = [];
  try {
    const sharedUrl = rabbitUrl();
    const sharedAnswers = await amqpAnswers(sharedUrl, 3000);
    const needsNode =
      selected.some((scenario) => scenario.broker === 'private') ||
      (!sharedAnswers && selected.some((scenario) => scenario.broker === 'shared'));
    if (needsNode) {
      if (!rabbitmqServerInstalled()) {
        throw new Error(
          'scenarios that stop, kill, alarm or black-hole the broker need rabbitmq-server installed (apt-get install rabbitmq-server)',
        );
      }
      write('starting a private RabbitMQ node…');
      node = await startPrivateRabbit();
    }
    if (selected.some((scenario) => scenario.source === 'ceph')) {
      write('starting a Ceph cluster…');
      ceph = await startCephRgw({ log: (line) => write(`  [ceph] ${line}`) });
    }
    const privateTarget: BrokerTarget | undefined =
      node === undefined
        ? undefined
        : { url: node.url, ctl: { node: node.nodeName, home: node.home }, node };
    const sharedTarget: BrokerTarget | undefined = sharedAnswers
      ? { url: sharedUrl, ctl: targetForUrl(sharedUrl) }
      : privateTarget;
    let clusterTarget: BrokerTarget | undefined;
    if (selected.some((scenario) => scenario.broker === 'cluster')) {
      if (!rabbitmqServerInstalled()) {
        throw new Error(
          'the cluster scenarios need rabbitmq-server installed (apt-get install rabbitmq-server)',
        );
      }
      write('starting a local 3-node RabbitMQ cluster…');
      const startedCluster = await startRabbitCluster();
      cluster = startedCluster;
      clusterTarget = {
        get url() {
          return startedCluster.anyUp().url;
        },
        get ctl() {
          return startedCluster.ctlTarget();
        },
        cluster: startedCluster,
      };
    }

    for (const scenario of selected) {
      const broker =
        scenario.broker === 'cluster'
          ? clusterTarget
          : scenario.broker === 'private'
            ? privateTarget
            : sharedTarget;
      if (broker === undefined) throw new Error('no broker');
      if (scenario.broker === 'cluster' && cluster !== undefined) {
        // Every scenario starts from a whole cluster, whatever the one before left.
        for (const member of cluster.nodes) if (!member.up) await member.start();
        await cluster.waitAllRunning();
      }
      write(`[${scenario.name}] ${scenario.fault}`);
      const scenarioStarted = Date.now();
      let result: ScenarioResult;
      try {
        result = await withHardLimit(
          scenario.name,
          SCENARIO_HARD_LIMIT_MS * Math.max(1, size.scale),
          runScenario(scenario, {
            size,
            broker,
            env,
            logRoot: LOG_ROOT,
            log: write,
            ...(ceph === undefined ? {} : { ceph: { endpoint: ceph.endpoint, users: ceph.users } }),
          }),
        );
      } catch (err) {
        // Its parts are in an unknown state: stop here rather than run the next on top of them.
        results.push(hungResult(scenario, scenarioStarted, err));
        write(summaryLine(results[results.length - 1] as ScenarioResult));
        break;
      }
      results.push(result);
      write(summaryLine(result));
      for (const problem of result.problems) write(indent(`✗ ${problem}`));
      if (!result.passed) write(indent(`logs: ${result.logDir}`));
    }
  } finally {
    await node?.dispose();
    await ceph?.dispose();
    await cluster?.dispose();
  }

  const passed = results.filter((result) => result.passed).length;
  // Scenarios not run (after a hang) count as failed.
  const failed = selected.length - passed;
  write(`${passed} passed, ${failed} failed (${seconds(Date.now() - started)})`);
  if (values.record) {
    await record(results, size, started, clusterRun ? RECORDS.cluster : RECORDS.single);
  }
  return failed === 0 ? 0 : 1;
}

function hungResult(scenario: Scenario, started: number, err: unknown): ScenarioResult {
  return {
    name: scenario.name,
    fault: scenario.fault,
    passed: false,
    acked: 0,
    lost: 0,
    unexpected: 0,
    wrong: 0,
    parked: 0,
    missed: 0,
    wiped: 0,
    keys: 0,
    writes: 0,
    durationMs: Date.now() - started,
    figures: {},
    problems: [err instanceof Error ? err.message : String(err)],
    logDir: `${LOG_ROOT}/${scenario.name}`,
  };
}

/** Runs the ledger's unit tests: a ledger that cannot fail would pass every scenario. */
function checkLedger(): boolean {
  const vitest = fileURLToPath(new URL('vitest.mjs', import.meta.resolve('vitest/package.json')));
  const result = spawnSync(
    process.execPath,
    [vitest, 'run', '--config', `${HERE}vitest.config.ts`, '--reporter', 'dot'],
    { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 120_000 },
  );
  if (result.status !== 0) {
    write(`${result.stdout}${result.stderr}`);
    return false;
  }
  write('ledger self-test passed');
  return true;
}

/** `name: acked=N lost=0 unexpected=0 wrong=0 wiped=0 parked=K missed=0 passed (details)`. */
function summaryLine(result: ScenarioResult): string {
  const figures = Object.entries(result.figures)
    .map(([name, value]) => `${name}=${value}`)
    .join(', ');
  return (
    `${result.name}: acked=${result.acked} lost=${result.lost} ` +
    `unexpected=${result.unexpected} wrong=${result.wrong} wiped=${result.wiped} ` +
    `parked=${result.parked} ` +
    `missed=${result.missed} ${result.passed ? 'passed' : 'FAILED'} ` +
    `(${result.writes} changes, ${result.keys} keys, ${seconds(result.durationMs)}; ${figures})`
  );
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

async function withHardLimit<T>(name: string, limitMs: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${name} did not finish within ${seconds(limitMs)}: a hang`)),
      limitMs,
    );
  });
  try {
    return await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** Writes the run's JSON and its figures table in RESULTS.md. */
async function record(
  results: readonly ScenarioResult[],
  size: RunSize,
  started: number,
  target: RecordTarget,
) {
  const rabbitVersion = await rabbitmqctl(['version']).then(
    (out) => out.trim(),
    () => 'unknown',
  );
  const run = {
    finishedAt: new Date().toISOString(),
    durationMs: Date.now() - started,
    loadMsPerScenario: size.loadMs,
    machine: { cpus: cpus().length, node: process.version, rabbitmq: rabbitVersion },
    passed: results.filter((r) => r.passed).length,
    failed: results.filter((r) => !r.passed).length,
    scenarios: results.map(({ logDir: _logDir, ...result }) => result),
  };
  await mkdir(`${HERE}results`, { recursive: true });
  // Formatted as `npm run format` would, so that the committed file passes format:check.
  const options = { ...(await prettier.resolveConfig(target.json)), filepath: target.json };
  await writeFile(target.json, await prettier.format(JSON.stringify(run), options));
  const rows = results.map(
    (r) =>
      `| ${r.name} | ${r.passed ? 'pass' : '**FAIL**'} | ${r.writes} | ${r.acked} | ${r.lost} | ${r.unexpected} | ${r.wrong} | ${r.wiped} | ${r.parked} | ${r.missed} | ${Object.entries(
        r.figures,
      )
        .map(([name, value]) => `${name} ${value}`)
        .join('; ')} | ${Math.round(r.durationMs / 1000)} s |`,
  );
  const table = [
    `Last recorded run: ${run.finishedAt.slice(0, 10)}, ${run.machine.cpus} CPUs, Node ${run.machine.node}, RabbitMQ ${run.machine.rabbitmq}, load ${seconds(size.loadMs)} per scenario, ${run.passed} passed, ${run.failed} failed in ${seconds(run.durationMs)}.`,
    '',
    '| scenario | result | changes | acked | lost | unexpected | wrong | wiped | parked | missed | the fault, measured | time |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  const markdown = await readFile(RESULTS_MD, 'utf8').catch(() => '');
  const start = `<!-- ${target.section}:start -->`;
  const end = `<!-- ${target.section}:end -->`;
  if (markdown.includes(start) && markdown.includes(end)) {
    const before = markdown.slice(0, markdown.indexOf(start) + start.length);
    const after = markdown.slice(markdown.indexOf(end));
    await writeFile(RESULTS_MD, `${before}\n${table}\n${after}`);
  }
  write(`recorded ${target.json}`);
}

// The SDK is pinned to releases that support Node 20 (see the README); its reminder is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.on('exit', killAllServices);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    write(`${signal}: stopping`);
    process.exit(130);
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    write(`fault suite failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    write('0 passed, 1 failed');
    process.exit(1);
  },
);
