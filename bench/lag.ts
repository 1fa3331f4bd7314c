import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { AMQP_URL, benchPrefix, deleteQueues } from './lib/broker.js';
import { spawnIngress } from './lib/ingress-child.js';
import { RESULT_PREFIX, spawnBenchScript } from './lib/node-child.js';
import {
  CpuMeter,
  processTree,
  rabbitPid,
  sleep,
  waitHttpOk,
  type ChildProc,
} from './lib/processes.js';
import { delta, histogramQuantile, scrape, sumOf, type Sample } from './lib/prometheus.js';
import { BACKUP_BUCKET, SOURCE_BUCKET } from './lib/replication.js';
import { infoRow, row, type BenchOutcome, type Benchmark, type BenchResult } from './lib/report.js';
import { s3Client, s3Env, startS3Server, type S3Server } from './lib/s3-server.js';
import { distribution, round, type Distribution } from './lib/stats.js';
import { startWorkers, type WorkerGroup } from './lib/workers.js';

const RATE_PER_SECOND = 200;
const DURATION_SECONDS = 60;
const OBJECT_BYTES = 1024;
/** How long after the last write the benchmark waits for stragglers. */
const DRAIN_SECONDS = 30;
const DEFAULT_SHAPE = { workers: 1, concurrency: 32 };
/** A light load first: the pipeline's own lag, with no queue built up. */
const LIGHT_RATE_PER_SECOND = 50;
const LIGHT_SECONDS = 20;

/** The pipeline's stages over a window between two scrapes of the ingress and of the workers. */
function stagesOf(
  ingress: { before: Sample[]; after: Sample[] },
  workers: { before: Sample[][]; after: Sample[][] },
) {
  const ingressWindow = delta(ingress.after, ingress.before);
  const workerWindow: Sample[] = workers.after.flatMap((samples, index) =>
    delta(samples, workers.before[index] ?? []),
  );
  const quantileMs = (name: string, q: number) =>
    round(1000 * histogramQuantile(workerWindow, name, q), 1);
  return {
    publishMeanMs:
      (1000 * sumOf(ingressWindow, 's3relay_ingress_publish_seconds_sum')) /
      Math.max(1, sumOf(ingressWindow, 's3relay_ingress_publish_seconds_count')),
    workerLagP50: quantileMs('s3relay_worker_replication_lag_seconds', 0.5),
    workerLagP99: quantileMs('s3relay_worker_replication_lag_seconds', 0.99),
    copyP50: quantileMs('s3relay_worker_copy_duration_seconds', 0.5),
    copyP99: quantileMs('s3relay_worker_copy_duration_seconds', 0.99),
    // Gauges over the window: each scrape resets the event-loop delay histogram.
    workersLoopP99Ms: round(
      1000 *
        Math.max(
          ...workers.after.map((samples) => sumOf(samples, 'nodejs_eventloop_lag_p99_seconds')),
        ),
      1,
    ),
    ingressLoopP99Ms: round(1000 * sumOf(ingress.after, 'nodejs_eventloop_lag_p99_seconds'), 1),
  };
}

/** The small-object benchmark's best rate in this run, if it ran. */
function bestSmallObjectRate(results: ReadonlyMap<string, BenchResult>): number | undefined {
  const small = results.get('small-objects')?.measurements as
    | { workers?: { objectsPerSecond: number }[] }
    | undefined;
  const rates = (small?.workers ?? []).map((run) => run.objectsPerSecond);
  return rates.length === 0 ? undefined : Math.max(...rates);
}

/** The worker shape of the small-object benchmark's best run in this run, if it ran. */
function shapeFrom(results: ReadonlyMap<string, BenchResult>): {
  workers: number;
  concurrency: number;
} {
  const small = results.get('small-objects')?.measurements as
    | { workers?: { workers: number; concurrency: number; objectsPerSecond: number }[] }
    | undefined;
  const runs = small?.workers ?? [];
  if (runs.length === 0) return DEFAULT_SHAPE;
  const best = runs.reduce((a, b) => (b.objectsPerSecond > a.objectsPerSecond ? b : a));
  return { workers: best.workers, concurrency: best.concurrency };
}

interface Pipeline {
  readonly emulator: ChildProc;
  readonly sourceEndpoint: string;
  readonly ingress: ChildProc;
  readonly ingressUrl: string;
  /** The ingress's /metrics, on its own port (HTTP_METRICS_PORT). */
  readonly ingressMetricsUrl: string;
  readonly workers: WorkerGroup;
  close(): Promise<void>;
}

async function startPipeline(
  backup: S3Server,
  prefix: string,
  shape: { workers: number; concurrency: number },
): Promise<Pipeline> {
  const stops: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const {
      child: ingress,
      url: ingressUrl,
      webhookUrl,
      metricsUrl: ingressMetricsUrl,
    } = await spawnIngress(prefix, 'info', (publicUrl) => ({
      PUBLIC_URLS: publicUrl,
      SOURCE_BUCKETS: SOURCE_BUCKET,
    }));
    stops.push(() => ingress.stop());
    await waitHttpOk(`${ingressUrl}/readyz`, ingress);
    let sourceEndpoint = '';
    const emulator = spawnBenchScript(
      'emulator',
      'emulator-child.ts',
      [SOURCE_BUCKET, webhookUrl],
      {
        onLine: (line) => {
          if (line.startsWith('READY ')) sourceEndpoint = line.slice('READY '.length);
        },
      },
    );
    stops.push(() => emulator.stop());
    const deadline = Date.now() + 30_000;
    while (sourceEndpoint === '') {
      if (Date.now() > deadline || emulator.child.exitCode !== null) {
        throw new Error(`the emulator did not start:\n${emulator.output()}`);
      }
      await sleep(25);
    }
    const workers = await startWorkers(shape.workers, {
      AMQP_URL,
      AMQP_PREFIX: prefix,
      WORKER_CONCURRENCY: String(shape.concurrency),
      SOURCE_BUCKETS: SOURCE_BUCKET,
      DEST_BUCKET: BACKUP_BUCKET,
      ...s3Env('SOURCE', sourceEndpoint),
      SOURCE_S3_REGION: 'ru-msk',
      ...backup.env('DEST'),
    });
    stops.push(() => workers.stop());
    return {
      emulator,
      sourceEndpoint,
      ingress,
      ingressUrl,
      ingressMetricsUrl,
      workers,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** What one steady write rate gave. */
interface Offered {
  readonly started: number;
  readonly written: number;
  readonly writeSeconds: number;
  readonly putFailures: number;
  readonly firstPutError: string;
  readonly putMs: Distribution;
  /** Source PUT answered → `task done`; objects that never arrived count with what they waited. */
  readonly lag: Distribution;
  readonly missing: number;
  /** Arrivals over the time from the first write to the last arrival. */
  readonly deliveredPerSecond: number;
}

/**
 * Writes `rate` objects a second for `seconds` to the source (open loop: object i is written at
 * start + i / rate, whether or not earlier writes finished), then waits up to DRAIN_SECONDS for
 * every one to be copied.
 */
async function offer(
  client: S3Client,
  workers: WorkerGroup,
  rate: number,
  seconds: number,
  keyPrefix: string,
  log?: (message: string) => void,
): Promise<Offered> {
  const total = rate * seconds;
  const written = new Map<string, number>();
  const putLatencies: number[] = [];
  let putFailures = 0;
  let firstPutError = '';
  const body = randomBytes(OBJECT_BYTES);
  const started = Date.now();
  const puts: Promise<void>[] = [];
  for (let index = 0; index < total; index += 1) {
    const due = started + (index * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 1) await sleep(wait);
    const key = `${keyPrefix}${String(index).padStart(6, '0')}`;
    const sent = Date.now();
    puts.push(
      client.send(new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: key, Body: body })).then(
        () => {
          const acked = Date.now();
          written.set(key, acked);
          putLatencies.push(acked - sent);
        },
        (err: unknown) => {
          putFailures += 1;
          firstPutError ||= String(err);
        },
      ),
    );
  }
  await Promise.all(puts);
  const writeSeconds = (Date.now() - started) / 1000;
  log?.(`waiting up to ${DRAIN_SECONDS} s for the last objects to arrive`);
  const arrived = () => {
    const first = new Map<string, number>();
    for (const entry of workers.done) {
      if (entry.outcome !== 'copied' || !entry.key.startsWith(keyPrefix)) continue;
      if (!first.has(entry.key)) first.set(entry.key, entry.at);
    }
    return first;
  };
  const drainDeadline = Date.now() + DRAIN_SECONDS * 1000;
  while (arrived().size < written.size && Date.now() < drainDeadline) await sleep(100);
  const arrivals = arrived();
  const lags: number[] = [];
  const endedAt = Date.now();
  let missing = 0;
  for (const [key, ackedAt] of written) {
    const at = arrivals.get(key);
    if (at === undefined) missing += 1;
    lags.push(Math.max(0, (at ?? endedAt) - ackedAt));
  }
  const arrivalTimes = [...arrivals.values()];
  return {
    started,
    written: written.size,
    writeSeconds,
    putFailures,
    firstPutError,
    putMs: distribution(putLatencies),
    lag: distribution(lags),
    missing,
    deliveredPerSecond:
      arrivalTimes.length / Math.max(0.001, (Math.max(...arrivalTimes) - started) / 1000),
  };
}

export const lagBenchmark: Benchmark = {
  name: 'lag',
  title: `end-to-end lag at a steady ${RATE_PER_SECOND} events/s for ${DURATION_SECONDS} s, emulated VK source → ingress → RabbitMQ → workers → backup`,
  async run({ log, machine, results }): Promise<BenchOutcome> {
    const rabbit = await rabbitPid();
    const shape = shapeFrom(results);
    const prefix = benchPrefix('lag');
    const backup = await startS3Server([BACKUP_BUCKET]);
    let pipeline: Pipeline | undefined;
    try {
      log(`starting ingress, emulator and ${shape.workers} worker(s) × ${shape.concurrency}`);
      pipeline = await startPipeline(backup, prefix, shape);
      const { workers } = pipeline;
      const client = s3Client(pipeline.sourceEndpoint, 256);
      const ingressMetrics = pipeline.ingressMetricsUrl;
      const cpu = new CpuMeter({
        emulator: processTree(pipeline.emulator.pid),
        ingress: pipeline.ingress.pid,
        workers: workers.pids,
        backupS3: backup.pid,
        rabbitmq: rabbit ?? [],
        loadGenerator: process.pid,
      });
      log(
        `light load first: ${LIGHT_RATE_PER_SECOND}/s for ${LIGHT_SECONDS} s (where the lag is the pipeline's, not a queue's)`,
      );
      const [ingressStart, workersStart] = await Promise.all([
        scrape(ingressMetrics),
        workers.scrape(),
      ]);
      cpu.start();
      const light = await offer(client, workers, LIGHT_RATE_PER_SECOND, LIGHT_SECONDS, 'light/');
      const lightCpu = cpu.stop();
      const lightWindowSeconds = (Date.now() - light.started) / 1000;
      const [ingressBefore, workersBefore] = await Promise.all([
        scrape(ingressMetrics),
        workers.scrape(),
      ]);
      log(
        `writing ${RATE_PER_SECOND * DURATION_SECONDS} objects of ${OBJECT_BYTES} bytes to the source at ${RATE_PER_SECOND}/s`,
      );
      cpu.start();
      const offered = await offer(client, workers, RATE_PER_SECOND, DURATION_SECONDS, 'lag/', log);
      const cpuSeconds = cpu.stop();
      const windowSeconds = (Date.now() - offered.started) / 1000;
      const [ingressAfter, workersAfter] = await Promise.all([
        scrape(ingressMetrics),
        workers.scrape(),
      ]);
      client.destroy();
      const {
        written,
        putFailures,
        firstPutError,
        writeSeconds,
        lag,
        missing,
        deliveredPerSecond,
        putMs: puts50,
      } = offered;
      const atLeast = missing > 0 ? '≥ ' : '';
      const total = RATE_PER_SECOND * DURATION_SECONDS;

      const {
        publishMeanMs,
        workerLagP50,
        workerLagP99,
        copyP50,
        copyP99,
        workersLoopP99Ms,
        ingressLoopP99Ms,
      } = stagesOf(
        { before: ingressBefore, after: ingressAfter },
        { before: workersBefore, after: workersAfter },
      );
      const lightStages = stagesOf(
        { before: ingressStart, after: ingressBefore },
        { before: workersStart, after: workersBefore },
      );

      await pipeline.close();
      const emulatorStats = pipeline.emulator
        .output()
        .split('\n')
        .find((line) => line.startsWith(RESULT_PREFIX));
      pipeline = undefined;

      const capacity = machine.cores * windowSeconds;
      const busy = Object.fromEntries(
        Object.entries(cpuSeconds).map(([name, seconds]) => [
          name,
          round((100 * seconds) / capacity),
        ]),
      );
      const measuredSeconds = Object.entries(cpuSeconds)
        .filter(([name]) => name !== 'machine')
        .reduce((total, [, seconds]) => total + seconds, 0);
      const othersPercent = round(
        (100 * Math.max(0, (cpuSeconds.machine ?? 0) - measuredSeconds)) / capacity,
      );
      const smallObjectsRate = bestSmallObjectRate(results);
      const share = (used: Record<string, number>, seconds: number) => {
        const whole = machine.cores * seconds;
        const ours = Object.entries(used).filter(([name]) => name !== 'machine');
        const oursSeconds = ours.reduce((total, [, value]) => total + value, 0);
        return (
          `${ours.map(([name, value]) => `${name} ${round((100 * value) / whole)}`).join(', ')}; ` +
          `other processes ${round((100 * Math.max(0, (used.machine ?? 0) - oursSeconds)) / whole)} (% of ${machine.cores} cores)`
        );
      };
      const met = lag.p99 < 1000 && missing === 0 && putFailures === 0;
      return {
        settings: {
          ratePerSecond: RATE_PER_SECOND,
          durationSeconds: DURATION_SECONDS,
          objectBytes: OBJECT_BYTES,
          workers: shape.workers,
          workerConcurrency: shape.concurrency,
          source:
            'the VK Cloud emulator (s3rver behind its front, webhooks one record per POST, 8 in flight) in its own process',
          backup: 's3rver in its own process',
          lag: 'from the source PUT being answered to the worker logging `task done` (copied) for the key — after the backup PUT and the recheck HEAD, so an upper bound of the arrival',
          drainSeconds: DRAIN_SECONDS,
        },
        measurements: {
          light,
          objectsWritten: written,
          deliveredPerSecond,
          putFailures,
          firstPutError,
          writeSeconds,
          missing,
          lagMs: lag,
          sourcePutMs: puts50,
          ingressPublishMeanMs: publishMeanMs,
          workerReplicationLagMs: { p50: workerLagP50, p99: workerLagP99 },
          workerCopyMs: { p50: copyP50, p99: copyP99 },
          eventLoopLagP99Ms: {
            workers: workersLoopP99Ms,
            ingress: ingressLoopP99Ms,
          },
          cpuSeconds,
          cpuBusyPercentOfMachine: busy,
          emulator:
            emulatorStats === undefined
              ? null
              : (JSON.parse(emulatorStats.slice(RESULT_PREFIX.length)) as unknown),
        },
        rows: [
          row(
            {
              measure: `lag p50 / p99 / max at ${RATE_PER_SECOND} events/s for ${DURATION_SECONDS} s`,
              value: `${atLeast}${round(lag.p50)} / ${atLeast}${round(lag.p99)} / ${atLeast}${round(lag.max)} ms`,
              ceiling: '',
              ratio: '',
              target: 'p99 < 1 s',
            },
            met,
          ),
          infoRow({
            measure: 'objects arrived, source writes failed',
            value: `${written - missing} of ${written} (${round(deliveredPerSecond)}/s sustained), ${putFailures} failed`,
            ceiling: `${total} written at ${round(total / writeSeconds)}/s`,
            ratio: '',
          }),
          infoRow({
            measure: `diagnostic: lag p50 / p99 / max at ${LIGHT_RATE_PER_SECOND} events/s for ${LIGHT_SECONDS} s (before)`,
            value: `${light.missing > 0 ? '≥ ' : ''}${round(light.lag.p50)} / ${round(light.lag.p99)} / ${round(light.lag.max)} ms`,
            ceiling: `${light.written - light.missing} of ${light.written} arrived`,
            ratio: '',
          }),
        ],
        diagnosis: [
          `Stages at ${LIGHT_RATE_PER_SECOND}/s (end-to-end p50 ${round(light.lag.p50)} ms, p99 ${round(light.lag.p99)} ms): ` +
            `the source PUT took p50 ${round(light.putMs.p50)} ms / p99 ${round(light.putMs.p99)} ms; the ingress's ` +
            `publish-to-confirm ${round(lightStages.publishMeanMs, 1)} ms on average; ingress acceptance → backup written ` +
            `p50 ≈ ${lightStages.workerLagP50} ms, p99 ≈ ${lightStages.workerLagP99} ms, of which GET‖HEAD + PUT ` +
            `p50 ≈ ${lightStages.copyP50} ms, p99 ≈ ${lightStages.copyP99} ms; event-loop delay p99 (10 ms resolution ` +
            `included) workers ${lightStages.workersLoopP99Ms} ms, ingress ${lightStages.ingressLoopP99Ms} ms. The rest ` +
            'of the end-to-end figure is the emulator noticing the write and POSTing the webhook, and the recheck HEAD. ' +
            `CPU of the machine meanwhile: ${share(lightCpu, lightWindowSeconds)}.`,
          `Stages at ${RATE_PER_SECOND}/s: the source PUT took p50 ${round(puts50.p50)} ms / p99 ${round(puts50.p99)} ms; the ingress's publish-to-confirm ` +
            `${round(publishMeanMs, 1)} ms on average; ingress acceptance → backup written (s3relay_worker_replication_lag_seconds) ` +
            `p50 ≈ ${workerLagP50} ms, p99 ≈ ${workerLagP99} ms, of which GET‖HEAD + PUT p50 ≈ ${copyP50} ms, p99 ≈ ${copyP99} ms. ` +
            'The rest of the end-to-end figure is the emulator noticing the write and POSTing the webhook.',
          `CPU over the window (% of ${machine.cores} cores): ${Object.entries(busy)
            .map(([name, value]) => `${name} ${value}`)
            .join(', ')}; other processes of the machine ${othersPercent}.`,
          ...(smallObjectsRate === undefined
            ? []
            : [
                `Capacity: the small-object benchmark of this run replicated ${round(smallObjectsRate)} objects/s ` +
                  `with the same workers and no source writes or webhooks competing for the cores; ${RATE_PER_SECOND}/s ` +
                  'offered here adds a source PUT, a webhook and a publish per object.',
              ]),
          `Event-loop delay p99 (10 ms resolution included): workers ${workersLoopP99Ms} ms, ingress ${ingressLoopP99Ms} ms.`,
          ...(missing > 0
            ? [`${missing} objects had not arrived ${DRAIN_SECONDS} s after the last write.`]
            : []),
          ...(firstPutError !== '' ? [`First source write error: ${firstPutError}`] : []),
        ],
        notes: [],
      };
    } finally {
      await pipeline?.close();
      await backup.close();
      await deleteQueues(prefix);
    }
  },
};
