import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeliveryOptions } from '@s3relay/emulator';
import type { CephConnection } from '../helpers/ceph-rgw.js';
import type { PrivateRabbit } from '../helpers/private-rabbit.js';
import type { RabbitCluster } from '../helpers/rabbit-cluster.js';
import type { S3Proxy } from '../helpers/s3-proxy.js';
import type { TcpProxy } from '../helpers/tcp-proxy.js';
import { judge, type BackupDelete, type LedgerReport } from './ledger.js';
import { watchServers, type LivenessMonitor } from './liveness.js';
import { runLoad, type LoadOptions, type LoadResult } from './load.js';
import { bucketState, parkedTasks, queueCounts } from './observe.js';
import { describeExit, type ServiceProcess } from './service-process.js';
import type { RecorderChaos } from './webhook-recorder.js';
import {
  BACKUP_BUCKET,
  POISON_CODE,
  SOURCE_BUCKET,
  startStack,
  type BrokerTarget,
  type Stack,
} from './stack.js';

/** How big a run is: CI-sized by default, longer with `--minutes`. */
export interface RunSize {
  /** How long each scenario's load lasts. */
  readonly loadMs: number;
  /** loadMs relative to the CI size (1 in CI): rates and counts scale with it. */
  readonly scale: number;
}

/** What a scenario's fault code can reach and report. */
export interface ScenarioContext {
  readonly stack: Stack;
  readonly size: RunSize;
  /** Aborted when the load is over. */
  readonly loadDone: AbortSignal;
  /** Milliseconds since the load started. */
  elapsed(): number;
  /** Records a figure of the fault (`closes`, `kills`, …) for the summary. */
  count(name: string, by?: number): void;
  /** Records a figure that is not a count. */
  note(name: string, value: number | string): void;
  /** Fails the scenario with `problem` unless `condition` holds. */
  expect(condition: boolean, problem: string): void;
  /** How many lines of `service`'s log (every run of it) match `pattern`. */
  countInLog(service: string, pattern: RegExp): Promise<number>;
  /** The lines of `service`'s log (every run of it, in run order) that match `pattern`. */
  linesInLog(service: string, pattern: RegExp): Promise<string[]>;
  log(message: string): void;
}

/** The private broker node a broker-fault scenario stops, kills or alarms. */
export function privateNode(context: ScenarioContext): PrivateRabbit {
  const node = context.stack.broker.node;
  if (node === undefined) throw new Error('this scenario needs a private node');
  return node;
}

/** The local cluster a cluster scenario kills, stops, restarts or black-holes nodes of. */
export function clusterOf(context: ScenarioContext): RabbitCluster {
  const cluster = context.stack.broker.cluster;
  if (cluster === undefined) throw new Error('this scenario needs the local cluster');
  return cluster;
}

/** Black-holes `proxy` (open and new connections go silent) for `ms`, counted as `black holes`. */
export async function blackHole(
  context: ScenarioContext,
  proxy: TcpProxy,
  ms: number,
): Promise<void> {
  proxy.setMode('drop');
  context.count('black holes');
  try {
    await sleep(ms);
  } finally {
    proxy.setMode('pass');
  }
}

/** The load of the broker-fault scenarios: steady small changes, a few large objects, 2 poisoned keys. */
export function brokerFaultLoad(
  size: RunSize,
  durationMs = size.loadMs,
): Omit<LoadOptions, 'client' | 'bucket' | 'signal'> {
  return { durationMs, opsPerSecond: 10, bigObjects: Math.round(3 * size.scale), poison: 2 };
}

export interface Scenario {
  readonly name: string;
  /** One line: what happens, for the summary and RESULTS.md. */
  readonly fault: string;
  /**
   * A private node when the scenario stops, kills, alarms or black-holes the broker; the local
   * 3-node cluster for the cluster scenarios (`npm run test:cluster`).
   */
  readonly broker: 'shared' | 'private' | 'cluster';
  readonly brokerProxy?: boolean;
  readonly workers: number;
  readonly delivery?: DeliveryOptions;
  /**
   * `ceph`: the source and the backup are buckets of two users of a Ceph cluster, and the
   * webhooks are Ceph's own notifications (the suite starts one cluster for all such scenarios).
   * @default 'emulator'
   */
  readonly source?: 'emulator' | 'ceph';
  /** Duplicates the recorder adds to a source that sends each event once (Ceph). */
  readonly chaos?: RecorderChaos;
  readonly env?: Readonly<Record<string, string>>;
  /** The load, for a run of `size`. */
  load(size: RunSize): Omit<LoadOptions, 'client' | 'bucket' | 'signal'>;
  /**
   * The load stops once the fault is over (`inject` resolved), its duration being the longest it
   * may run: for faults whose length depends on the machine (a rolling restart).
   */
  readonly loadUntilFaultDone?: boolean;
  /** Injects the fault while the load runs, and restores everything before it resolves. */
  inject(context: ScenarioContext): Promise<void>;
  /**
   * Runs once everything is quiet after the load: an operator's repair (resync). The ledger
   * before it is kept as `before heal`.
   */
  heal?(context: ScenarioContext): Promise<void>;
  /** Runs once the pipeline is quiet after the load (and the heal): figures of the aftermath. */
  report?(context: ScenarioContext): Promise<void>;
}

export interface ScenarioResult {
  readonly name: string;
  readonly fault: string;
  readonly passed: boolean;
  readonly acked: number;
  readonly lost: number;
  readonly unexpected: number;
  readonly wrong: number;
  readonly parked: number;
  readonly missed: number;
  /** Backup deletes while the source held the key (ledger.ts). */
  readonly wiped: number;
  readonly keys: number;
  readonly writes: number;
  readonly durationMs: number;
  /** Figures of the fault itself (how many closes, kills, 503s…). */
  readonly figures: Readonly<Record<string, number | string>>;
  readonly problems: readonly string[];
  readonly logDir: string;
}

/** Waiting for the pipeline to drain after the load, at most (scaled with the run). */
const QUIET_TIMEOUT_MS = 180_000;
/** The janitor and resync commands, at most. */
const COMMAND_TIMEOUT_MS = 120_000;

/**
 * Runs one scenario from a fresh stack to its ledger: load and fault together, then waits for
 * the pipeline to drain, judges every key, runs the janitor, and checks that no process exited
 * unless the scenario made it. Everything is torn down, whatever happens.
 */
export async function runScenario(
  scenario: Scenario,
  options: {
    size: RunSize;
    broker: BrokerTarget;
    /** Service settings over the scenario's own (from `--env`). */
    env?: Readonly<Record<string, string>>;
    /** The cluster of `source: 'ceph'` scenarios. */
    ceph?: CephConnection;
    logRoot: string;
    log: (line: string) => void;
  },
): Promise<ScenarioResult> {
  const started = Date.now();
  const logDir = join(options.logRoot, scenario.name);
  await mkdir(logDir, { recursive: true });
  const problems: string[] = [];
  const figures: Record<string, number | string> = {};
  let report: LedgerReport | undefined;
  let load: LoadResult | undefined;
  let stack: Stack | undefined;
  let liveness: LivenessMonitor | undefined;
  const log = (message: string) => options.log(`  [${scenario.name}] ${message}`);
  try {
    stack = await startStack({
      label: scenario.name,
      logDir,
      broker: options.broker,
      workers: scenario.workers,
      ...(scenario.brokerProxy === undefined ? {} : { brokerProxy: scenario.brokerProxy }),
      delivery: { initialDelayMs: 500, maxDelayMs: 5000, ...scenario.delivery },
      ...(scenario.source === 'ceph' ? { ceph: cephFor(scenario, options.ceph) } : {}),
      ...(scenario.chaos === undefined ? {} : { chaos: scenario.chaos }),
      env: { ...scenario.env, ...options.env },
    });
    const current = stack;
    log(`stack up in ${seconds(Date.now() - started)} (prefix ${current.prefix})`);
    liveness = watchServers(current.servers);
    const loadDone = new AbortController();
    let loadStarted = Date.now();
    const context: ScenarioContext = {
      stack: current,
      size: options.size,
      loadDone: loadDone.signal,
      elapsed: () => Date.now() - loadStarted,
      count(name, by = 1) {
        figures[name] = Number(figures[name] ?? 0) + by;
      },
      note(name, value) {
        figures[name] = value;
      },
      expect(condition, problem) {
        if (!condition) problems.push(problem);
      },
      countInLog: async (service, pattern) =>
        (await linesInLogs(current, logDir, service, pattern)).length,
      linesInLog: (service, pattern) => linesInLogs(current, logDir, service, pattern),
      log,
    };

    loadStarted = Date.now();
    const faultDone = new AbortController();
    const loading = runLoad({
      ...scenario.load(options.size),
      client: current.sourceClient,
      bucket: SOURCE_BUCKET,
      ...(scenario.loadUntilFaultDone === true ? { signal: faultDone.signal } : {}),
    }).finally(() => loadDone.abort());
    const injecting = scenario.inject(context).finally(() => faultDone.abort());
    const [loaded, injected] = await Promise.allSettled([loading, injecting]);
    if (injected.status === 'rejected') throw injected.reason;
    if (loaded.status === 'rejected') throw loaded.reason;
    load = loaded.value;
    log(`load done: ${load.writes.length} changes in ${seconds(context.elapsed())}`);

    const quietTimeoutMs = QUIET_TIMEOUT_MS * Math.max(1, options.size.scale);
    // A pipeline that does not drain is a failure, and the ledger then says what is missing.
    let drained = await waitQuiet(current, quietTimeoutMs, log);
    report = await ledger(current, load);
    if (scenario.heal !== undefined && drained === true) {
      figures['missed before heal'] = report.missed.length;
      figures['lost before heal'] = report.lost.length;
      await scenario.heal(context);
      drained = await waitQuiet(current, quietTimeoutMs, log);
      report = await ledger(current, load);
    }
    if (report.problems.length > 0 && drained === true) {
      // A worker whose delivery was taken back (a dead channel) may still be writing: let it
      // finish and its recheck run, then judge once more.
      log(`ledger not clean yet (${report.problems.join('; ')}); judging again once quiet`);
      await sleep(5000);
      drained = await waitQuiet(current, quietTimeoutMs, log);
      report = await ledger(current, load);
    }
    if (drained !== true) problems.push(drained);
    problems.push(...report.problems);
    // What `wiped` judged: a count of 0 means something only when the backup did delete.
    figures['backup deletes'] = report.backupDeletes;
    await scenario.report?.(context);

    const openBefore = (await current.openUploads()).length;
    figures['uploads open before janitor'] = openBefore;
    const janitor = await current.group.run(
      'janitor',
      ['janitor', '--older-than', '0s'],
      {},
      COMMAND_TIMEOUT_MS,
    );
    if (janitor.exit.code !== 0) {
      problems.push(`janitor exited ${describeExit(janitor.exit)}:\n${janitor.output}`);
    }
    const open = await current.openUploads();
    if (open.length > 0) {
      problems.push(
        `${open.length} multipart uploads still open after the janitor: ${open
          .slice(0, 5)
          .map((upload) => upload.key)
          .join(', ')}`,
      );
    }
  } catch (err) {
    problems.push(
      `scenario failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
  } finally {
    liveness?.stop();
    for (const failure of liveness?.failures() ?? []) {
      problems.push(
        `test bed: ${failure.name} stopped accepting connections ${seconds(failure.afterMs)} ` +
          "after the stack was up (the suite's own server, not s3relay; the results are void)",
      );
    }
    for (const exit of stack?.group.unexpectedExits ?? []) {
      problems.push(
        `${exit.name} exited by itself (${describeExit(exit.exit)}); last lines:\n${exit.tail}`,
      );
    }
    const hung = (await stack?.close()) ?? [];
    for (const part of hung) problems.push(`${part} did not stop within 30 s`);
  }
  return {
    name: scenario.name,
    fault: scenario.fault,
    passed: problems.length === 0,
    acked: report?.acked ?? 0,
    lost: report?.lost.length ?? 0,
    unexpected: report?.unexpected.length ?? 0,
    wrong: report?.wrong.length ?? 0,
    parked: report?.parked.length ?? 0,
    missed: report?.missed.length ?? 0,
    wiped: report?.wiped.length ?? 0,
    keys: report?.keys ?? 0,
    writes: load?.writes.length ?? 0,
    durationMs: Date.now() - started,
    figures,
    problems,
    logDir,
  };
}

function cephFor(scenario: Scenario, ceph: CephConnection | undefined): CephConnection {
  if (ceph === undefined) throw new Error(`${scenario.name} needs a Ceph cluster`);
  return ceph;
}

/** Every key's verdict from the facts as they are now. */
async function ledger(stack: Stack, load: LoadResult): Promise<LedgerReport> {
  const backup = stack.backupReader();
  try {
    const [source, backupState, parked] = await Promise.all([
      bucketState(stack.sourceClient, SOURCE_BUCKET),
      bucketState(backup, BACKUP_BUCKET),
      parkedTasks(stack.broker.url, stack.names.dlq),
    ]);
    return judge({
      writes: load.writes,
      acked: stack.recorder.acked(),
      source,
      backup: backupState,
      parked,
      poisoned: load.poisoned,
      poisonCode: POISON_CODE,
      backupDeletes: backupDeletes(stack.backupProxy),
    });
  } finally {
    backup.destroy();
  }
}

/** The deletes the backup carried out, as its proxy saw them. */
function backupDeletes(proxy: S3Proxy): BackupDelete[] {
  return proxy.operations.flatMap(({ op, bucket, key, status, startedAt }) =>
    op === 'DeleteObject' && bucket === BACKUP_BUCKET && key !== undefined && isOk(status)
      ? [{ key, at: startedAt }]
      : [],
  );
}

const isOk = (status: number) => status >= 200 && status < 300;

/**
 * Resolves with true once the source has delivered every webhook and no task waits or runs
 * anywhere (tasks and retry queues empty, ready and unacknowledged), twice in a row 1.5 s apart;
 * with what was still pending after `timeoutMs` otherwise.
 */
async function waitQuiet(
  stack: Stack,
  timeoutMs: number,
  log: (message: string) => void,
): Promise<true | string> {
  const started = Date.now();
  let calm = 0;
  let polls = 0;
  let last = '';
  while (Date.now() - started < timeoutMs) {
    const stats = stack.source.stats();
    let pending: number | undefined;
    try {
      const counts = await queueCounts(stack.broker.ctl, stack.prefix);
      // A listing without the tasks queue is not an empty pipeline.
      if (!counts.has(stack.names.tasks)) throw new Error(`${stack.names.tasks} is not listed`);
      // Tasks waiting or running: the DLQ and the held deletes wait for an operator, and the
      // delete breaker's ledger holds a message per recent delete for its whole window.
      const working = [stack.names.tasks, ...stack.names.retryTiers.map((tier) => tier.queue)];
      pending = working.reduce((sum, name) => sum + (counts.get(name) ?? 0), 0);
    } catch (err) {
      last = `broker not answering: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (pending !== undefined) {
      last = `webhooks queued ${stats.queued}, in flight ${stats.inFlight}; tasks pending ${pending}`;
    }
    const quiet = stats.queued === 0 && stats.inFlight === 0 && pending === 0;
    calm = quiet ? calm + 1 : 0;
    if (calm >= 2) {
      log(`quiet after ${seconds(Date.now() - started)}`);
      return true;
    }
    if (++polls % 15 === 0) log(`waiting for quiet: ${last}`);
    await sleep(1500);
  }
  return `the pipeline did not drain within ${seconds(timeoutMs)}: ${last}`;
}

async function linesInLogs(
  stack: Stack,
  logDir: string,
  service: string,
  pattern: RegExp,
): Promise<string[]> {
  const runs = stack.group.processes.filter(
    (process: ServiceProcess) =>
      process.name === service ||
      process.name.startsWith(`${service}-`) ||
      process.name.startsWith(`${service}.`),
  );
  const matching: string[] = [];
  for (const run of runs) {
    const text = await readFile(join(logDir, `${run.name}.log`), 'utf8').catch(() => '');
    for (const line of text.split('\n')) if (pattern.test(line)) matching.push(line);
  }
  return matching;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
