import { startS3Proxy, type S3Operation } from '../test/helpers/s3-proxy.js';
import { CpuMeter, rabbitPid } from './lib/processes.js';
import { rcloneCopy, rcloneVersion, type RcloneRun } from './lib/rclone.js';
import { sumOf } from './lib/prometheus.js';
import {
  BACKUP_BUCKET,
  SOURCE_BUCKET,
  runDirect,
  runWorkers,
  type DirectRun,
  type WorkerRun,
} from './lib/replication.js';
import { infoRow, row, type BenchOutcome, type Benchmark } from './lib/report.js';
import { startS3Server, s3Client, type S3Server } from './lib/s3-server.js';
import { keyList, seedSmallObjects } from './lib/seed.js';
import { distribution, ratio, round } from './lib/stats.js';

const OBJECTS = 2000;
const OBJECT_BYTES = 1024;
/** Worker shapes tried; the best is compared with the best direct loop. */
const WORKER_SHAPES = [
  { workers: 1, concurrency: 16 },
  { workers: 1, concurrency: 32 },
  { workers: 2, concurrency: 16 },
  { workers: 2, concurrency: 32 },
] as const;
const DIRECT_CONCURRENCY = [16, 32] as const;
/** rclone's transfers (and checkers) tried on the same objects; its least CPU per object counts. */
const RCLONE_TRANSFERS = [16, 32] as const;
/** Objects of the pass through the recording proxies that counts requests per object. */
const PROXY_SAMPLE = 200;

/** Requests per object by operation, and their mean and p99 duration, from a proxy's log. */
export interface RequestProfile {
  readonly perObject: number;
  readonly byOperation: Record<string, { perObject: number; meanMs: number; p99Ms: number }>;
}

function profile(operations: readonly S3Operation[], objects: number): RequestProfile {
  const byOperation: RequestProfile['byOperation'] = {};
  const groups = new Map<string, number[]>();
  for (const operation of operations) {
    const durations = groups.get(operation.op) ?? [];
    durations.push(operation.durationMs);
    groups.set(operation.op, durations);
  }
  for (const [op, durations] of groups) {
    const stats = distribution(durations);
    byOperation[op] = {
      perObject: round(durations.length / objects, 2),
      meanMs: round(stats.mean, 1),
      p99Ms: round(stats.p99, 1),
    };
  }
  return { perObject: round(operations.length / objects, 2), byOperation };
}

function describeProfile(requests: RequestProfile): string {
  return Object.entries(requests.byOperation)
    .map(([op, stats]) => `${op} ${stats.perObject}`)
    .join(', ');
}

/** Counts the requests per object of the worker and of the direct loop through recording proxies. */
async function countRequests(
  source: S3Server,
  backup: S3Server,
  keys: readonly string[],
  shape: { workers: number; concurrency: number },
  rabbit: number | undefined,
): Promise<{ worker: RequestProfile; direct: RequestProfile }> {
  const sourceProxy = await startS3Proxy({ endpoint: source.endpoint });
  const backupProxy = await startS3Proxy({ endpoint: backup.endpoint });
  try {
    await runWorkers({
      source,
      backup,
      ...shape,
      keys,
      objectBytes: OBJECT_BYTES,
      destPrefix: 'proxied-worker/',
      sourceEndpoint: sourceProxy.endpoint,
      backupEndpoint: backupProxy.endpoint,
      rabbit,
      timeoutMs: 60_000,
    });
    const worker = profile([...sourceProxy.operations, ...backupProxy.operations], keys.length);
    sourceProxy.clearOperations();
    backupProxy.clearOperations();
    await runDirect({
      mode: 'get-put',
      source,
      backup,
      keys,
      destPrefix: 'proxied-direct/',
      concurrency: shape.concurrency,
      sourceEndpoint: sourceProxy.endpoint,
      backupEndpoint: backupProxy.endpoint,
    });
    const direct = profile([...sourceProxy.operations, ...backupProxy.operations], keys.length);
    return { worker, direct };
  } finally {
    await sourceProxy.close();
    await backupProxy.close();
  }
}

const perObjectMs = (seconds: number | undefined, objects: number) =>
  round(((seconds ?? 0) * 1000) / objects, 2);

/** The figures of a worker run that explain its rate. */
function workerBreakdown(run: WorkerRun) {
  const sum = (name: string) =>
    run.metrics.reduce((total, samples) => total + sumOf(samples, name), 0);
  const copyCount = sum('s3relay_worker_copy_duration_seconds_count');
  const copyMeanMs =
    (1000 * sum('s3relay_worker_copy_duration_seconds_sum')) / Math.max(1, copyCount);
  // Little's law: with every slot busy, a task holds its slot concurrency ÷ throughput seconds.
  const slotMs = (1000 * run.workers * run.concurrency) / run.objectsPerSecond;
  const lagP99 = Math.max(
    ...run.metrics.map((samples) => sumOf(samples, 'nodejs_eventloop_lag_p99_seconds')),
  );
  const lagMax = Math.max(
    ...run.metrics.map((samples) => sumOf(samples, 'nodejs_eventloop_lag_max_seconds')),
  );
  return {
    copyMeanMs: round(copyMeanMs, 1),
    slotMs: round(slotMs, 1),
    eventLoopLagP99Ms: round(lagP99 * 1000, 1),
    eventLoopLagMaxMs: round(lagMax * 1000, 1),
    cpuMsPerObject: {
      workers: perObjectMs(run.cpuSeconds.workers, run.objects),
      sourceS3: perObjectMs(run.cpuSeconds.source, run.objects),
      backupS3: perObjectMs(run.cpuSeconds.backup, run.objects),
      rabbitmq: perObjectMs(run.cpuSeconds.rabbitmq, run.objects),
      machine: perObjectMs(run.cpuSeconds.machine, run.objects),
    },
    busyPercent: round((100 * (run.cpuSeconds.machine ?? 0)) / (run.elapsedMs / 1000)),
  };
}

function directBreakdown(run: DirectRun) {
  return {
    cpuMsPerObject: {
      loop: perObjectMs(run.cpuSeconds, run.objects),
      sourceS3: perObjectMs(run.serverCpuSeconds.source, run.objects),
      backupS3: perObjectMs(run.serverCpuSeconds.backup, run.objects),
    },
  };
}

const shapeName = (run: { workers: number; concurrency: number }) =>
  `${run.workers} worker${run.workers === 1 ? '' : 's'} × ${run.concurrency}`;

export const smallObjectsBenchmark: Benchmark = {
  name: 'small-objects',
  title: `replication of ${OBJECTS.toLocaleString('en')} objects of 1 KiB through the queue, against a direct SDK GET→PUT loop (best of each over two interleaved rounds)`,
  async run({ log, machine }): Promise<BenchOutcome> {
    const rabbit = await rabbitPid();
    const [source, backup] = await Promise.all([
      startS3Server([SOURCE_BUCKET]),
      startS3Server([BACKUP_BUCKET]),
    ]);
    try {
      const keys = keyList('small/', OBJECTS);
      log(`seeding ${OBJECTS} objects of ${OBJECT_BYTES} bytes`);
      const seeder = s3Client(source.endpoint);
      await seedSmallObjects(seeder, SOURCE_BUCKET, keys, OBJECT_BYTES);
      seeder.destroy();

      const direct: DirectRun[] = [];
      const workers: WorkerRun[] = [];
      const rclone: (RcloneRun & { serverCpuSeconds: Record<string, number> })[] = [];
      const rcloneInstalled = await rcloneVersion();
      const rclonePass = async (transfers: number) => {
        if (rcloneInstalled === undefined) return;
        log(`rclone copy of the same objects, ${transfers} transfers`);
        const cpu = new CpuMeter({ sourceS3: source.pid, backupS3: backup.pid });
        cpu.start();
        const run = await rcloneCopy({
          source,
          backup,
          from: `${SOURCE_BUCKET}/small`,
          to: `${BACKUP_BUCKET}/rclone-${transfers}-${rclone.length}`,
          transfers,
          objects: OBJECTS,
        });
        rclone.push({ ...run, serverCpuSeconds: cpu.stop() });
        log(
          `  ${round(run.objectsPerSecond)} objects/s, ${perObjectMs(run.cpuSeconds, OBJECTS)} ms CPU per object`,
        );
      };
      const directPass = async (concurrency: number) => {
        log(`direct GET→PUT loop, ${concurrency} in flight`);
        const run = await runDirect({
          mode: 'get-put',
          source,
          backup,
          keys,
          destPrefix: `direct-${concurrency}-${direct.length}/`,
          concurrency,
        });
        log(`  ${round(run.objectsPerSecond)} objects/s`);
        direct.push(run);
      };
      const workerPass = async (shape: { workers: number; concurrency: number }) => {
        log(`${shapeName(shape)} (WORKER_CONCURRENCY=${shape.concurrency})`);
        const run = await runWorkers({
          source,
          backup,
          ...shape,
          keys,
          objectBytes: OBJECT_BYTES,
          destPrefix: `worker-${shape.workers}x${shape.concurrency}-${workers.length}/`,
          rabbit,
          timeoutMs: 180_000,
        });
        log(`  ${round(run.objectsPerSecond)} objects/s`);
        workers.push(run);
      };
      // Interleaved, so that a burst of someone else's load does not hit one side only.
      const [first, second, ...rest] = WORKER_SHAPES;
      await directPass(DIRECT_CONCURRENCY[0]);
      await workerPass(first);
      await directPass(DIRECT_CONCURRENCY[1]);
      await workerPass(second);
      for (const shape of rest) await workerPass(shape);
      for (const transfers of RCLONE_TRANSFERS) await rclonePass(transfers);
      // A second round: both concurrencies of the direct loop, and the worker shape that did best.
      for (const concurrency of DIRECT_CONCURRENCY) await directPass(concurrency);
      const leader = workers.reduce((a, b) => (b.objectsPerSecond > a.objectsPerSecond ? b : a));
      await workerPass({ workers: leader.workers, concurrency: leader.concurrency });
      for (const transfers of RCLONE_TRANSFERS) await rclonePass(transfers);

      const bestWorker = workers.reduce((a, b) =>
        b.objectsPerSecond > a.objectsPerSecond ? b : a,
      );
      const bestDirect = direct.reduce((a, b) => (b.objectsPerSecond > a.objectsPerSecond ? b : a));
      log(`counting requests per object through recording proxies (${PROXY_SAMPLE} objects)`);
      const requests = await countRequests(
        source,
        backup,
        keys.slice(0, PROXY_SAMPLE),
        bestWorker,
        rabbit,
      );

      const speed = ratio(bestWorker.objectsPerSecond, bestDirect.objectsPerSecond);
      // CPU per object, each side at its least: the worker runs whose every task copied, rclone's.
      const workerCpu = (run: WorkerRun) => perObjectMs(run.cpuSeconds.workers, run.objects);
      const thriftiest = workers
        .filter((run) => (run.outcomes.copied ?? 0) === run.objects)
        .reduce<
          WorkerRun | undefined
        >((a, b) => (a === undefined || workerCpu(b) < workerCpu(a) ? b : a), undefined);
      const rcloneCpu = (run: RcloneRun) => perObjectMs(run.cpuSeconds, OBJECTS);
      const bestRclone = rclone
        .filter((run) => run.copied === OBJECTS)
        .reduce<
          (typeof rclone)[number] | undefined
        >((a, b) => (a === undefined || rcloneCpu(b) < rcloneCpu(a) ? b : a), undefined);
      const cpuVsRclone =
        thriftiest === undefined || bestRclone === undefined
          ? Number.NaN
          : ratio(workerCpu(thriftiest), rcloneCpu(bestRclone));
      const workerWhy = workerBreakdown(bestWorker);
      const directWhy = directBreakdown(bestDirect);
      const notCopied = workers.flatMap((run) =>
        Object.entries(run.outcomes)
          .filter(([outcome]) => outcome !== 'copied')
          .map(([outcome, n]) => `${shapeName(run)}: ${n} ${outcome}`),
      );
      const cpuLine = (cpu: Record<string, number>) =>
        Object.entries(cpu)
          .map(([name, value]) => `${name} ${value}`)
          .join(', ');
      return {
        settings: {
          objects: OBJECTS,
          objectBytes: OBJECT_BYTES,
          workerShapes: WORKER_SHAPES,
          directConcurrency: DIRECT_CONCURRENCY,
          worker:
            '`s3relay worker` (built CLI) child processes, defaults otherwise (LOG_LEVEL info)',
          s3: 'two s3rver 3.7.1 processes on loopback',
          tasks:
            'published to the tasks queue with confirms once the workers consume; timed from the first publish to the last `task done`',
          proxySample: PROXY_SAMPLE,
        },
        measurements: {
          workers: workers.map(({ done: _done, metrics: _metrics, ...figures }, index) => ({
            ...figures,
            breakdown: workerBreakdown(workers[index] as WorkerRun),
          })),
          direct: direct.map((run) => ({ ...run, breakdown: directBreakdown(run) })),
          rclone,
          rcloneVersion: rcloneInstalled ?? null,
          requests,
        },
        rows: [
          row(
            {
              measure: `objects/s, ${OBJECTS.toLocaleString('en')} × 1 KiB, each side at its best`,
              value: `${round(bestWorker.objectsPerSecond)}/s (${shapeName(bestWorker)})`,
              ceiling: `${round(bestDirect.objectsPerSecond)}/s (direct GET→PUT, ${bestDirect.concurrency} in flight)`,
              ratio: `${round(speed, 2)}×`,
              target: '≥ 0.9×',
            },
            speed >= 0.9,
          ),
          thriftiest === undefined || bestRclone === undefined
            ? infoRow({
                measure: "workers' CPU per copied object ÷ rclone's, same objects",
                value:
                  thriftiest === undefined
                    ? 'no run copied every object'
                    : `${workerCpu(thriftiest)} ms`,
                ceiling:
                  rcloneInstalled === undefined
                    ? 'not measured: rclone is not installed (bench/setup.sh)'
                    : 'no rclone run copied every object',
                ratio: '',
              })
            : row(
                {
                  measure:
                    "workers' CPU per copied object ÷ rclone's, same objects (each at its least)",
                  value: `${workerCpu(thriftiest)} ms (${shapeName(thriftiest)})`,
                  ceiling: `${rcloneCpu(bestRclone)} ms (rclone copy, ${bestRclone.transfers} transfers)`,
                  ratio: `${round(cpuVsRclone, 2)}×`,
                  target: '≤ 2×',
                },
                cpuVsRclone <= 2,
              ),
          infoRow({
            measure: 'CPU per copied object (ms) of each process, best runs',
            value: cpuLine(workerWhy.cpuMsPerObject),
            ceiling:
              `direct: ${cpuLine(directWhy.cpuMsPerObject)}` +
              (bestRclone === undefined
                ? ''
                : `; rclone: rclone ${rcloneCpu(bestRclone)}, sourceS3 ${perObjectMs(bestRclone.serverCpuSeconds.sourceS3, OBJECTS)}, backupS3 ${perObjectMs(bestRclone.serverCpuSeconds.backupS3, OBJECTS)}`),
            ratio: '',
          }),
          infoRow({
            measure: 'S3 requests per object',
            value: `${requests.worker.perObject} (${describeProfile(requests.worker)})`,
            ceiling: `${requests.direct.perObject} (${describeProfile(requests.direct)})`,
            ratio: `${round(ratio(requests.worker.perObject, requests.direct.perObject), 2)}×`,
          }),
          infoRow({
            measure: 'every shape tried',
            value: workers
              .map((run) => `${shapeName(run)}: ${round(run.objectsPerSecond)}/s`)
              .join('; '),
            ceiling: [
              ...direct.map((run) => `${run.concurrency}: ${round(run.objectsPerSecond)}/s`),
              ...rclone.map(
                (run) =>
                  `rclone ${run.transfers}: ${round(run.objectsPerSecond)}/s, ${rcloneCpu(run)} ms CPU`,
              ),
            ].join('; '),
            ratio: '',
          }),
        ],
        diagnosis: [
          `Requests per object: the worker makes ${requests.worker.perObject} S3 requests per copied object ` +
            `(${describeProfile(requests.worker)}), the direct loop ${requests.direct.perObject} ` +
            `(${describeProfile(requests.direct)}). Mean time per request through the proxy: worker ` +
            `${Object.entries(requests.worker.byOperation)
              .map(([op, s]) => `${op} ${s.meanMs} ms`)
              .join(', ')}; direct ` +
            `${Object.entries(requests.direct.byOperation)
              .map(([op, s]) => `${op} ${s.meanMs} ms`)
              .join(', ')}.`,
          `CPU per object (ms), best worker run: ${cpuLine(workerWhy.cpuMsPerObject)}; best direct run: ` +
            `${cpuLine(directWhy.cpuMsPerObject)}. The machine was ${workerWhy.busyPercent} % busy ` +
            `(of ${machine.cores * 100} %) during the worker run.`,
          `Time per task (Little's law, ${bestWorker.workers * bestWorker.concurrency} slots): ${workerWhy.slotMs} ms, ` +
            `of which GET‖HEAD + PUT took ${workerWhy.copyMeanMs} ms (s3relay_worker_copy_duration_seconds); ` +
            'the rest is the recheck HEAD, the ack and the wait for the next delivery.',
          `Worker event-loop delay (10 ms resolution included): p99 ${workerWhy.eventLoopLagP99Ms} ms, max ${workerWhy.eventLoopLagMaxMs} ms.`,
          ...(notCopied.length > 0 ? [`Tasks not copied: ${notCopied.join('; ')}.`] : []),
          ...(bestWorker.problems.length > 0
            ? [`Worker warnings: ${bestWorker.problems.slice(0, 3).join(' | ')}`]
            : []),
        ],
        notes: [
          "The proxies of the request count add a loopback hop to every request, so their durations are a little above the real runs'; the counts are exact.",
        ],
      };
    } finally {
      await Promise.all([source.close(), backup.close()]);
    }
  },
};
