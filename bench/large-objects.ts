import { rabbitPid } from './lib/processes.js';
import {
  BACKUP_BUCKET,
  SOURCE_BUCKET,
  runDirect,
  runWorkers,
  type DirectRun,
  type WorkerRun,
} from './lib/replication.js';
import { infoRow, row, type BenchOutcome, type Benchmark, type SummaryRow } from './lib/report.js';
import { startS3Server, s3Client } from './lib/s3-server.js';
import { seedLargeObject } from './lib/seed.js';
import { ratio, round } from './lib/stats.js';

const MIB = 1024 * 1024;
const PART_SIZE_MB = 8;
const PART_QUEUE_SIZE = 4;
/** Tasks one worker copies at once: all 8 mid-sized objects together. */
const CONCURRENCY = 8;
/** What the RSS bound allows above the part buffers and the worker's idle RSS (#19). */
const RSS_HEADROOM_MIB = 32;

interface Phase {
  readonly name: string;
  readonly keys: readonly string[];
  readonly objectBytes: number;
}

const PHASES: readonly Phase[] = [
  { name: '1 × 1 GiB', keys: ['large/1gib'], objectBytes: 1024 * MIB },
  {
    name: '8 × 128 MiB',
    keys: Array.from({ length: 8 }, (_, index) => `large/128mib-${index}`),
    objectBytes: 128 * MIB,
  },
];

const mibPerSecond = (bytes: number, elapsedMs: number) => bytes / MIB / (elapsedMs / 1000);
const mib = (bytes: number) => `${Math.round(bytes / MIB)} MiB`;

export const largeObjectsBenchmark: Benchmark = {
  name: 'large-objects',
  title:
    'replication of one 1 GiB object and of 8 × 128 MiB (multipart), MiB/s and peak RSS, against a direct SDK stream copy',
  async run({ log }): Promise<BenchOutcome> {
    const rabbit = await rabbitPid();
    const [source, backup] = await Promise.all([
      startS3Server([SOURCE_BUCKET]),
      startS3Server([BACKUP_BUCKET]),
    ]);
    try {
      const seeder = s3Client(source.endpoint);
      for (const phase of PHASES) {
        log(`seeding ${phase.name}`);
        await Promise.all(
          phase.keys.map((key) => seedLargeObject(seeder, SOURCE_BUCKET, key, phase.objectBytes)),
        );
      }
      seeder.destroy();
      const rows: SummaryRow[] = [];
      const measurements: Record<string, unknown> = {};
      const diagnosis: string[] = [];
      for (const phase of PHASES) {
        const inFlight = Math.min(CONCURRENCY, phase.keys.length);
        log(`${phase.name}: direct stream copy, ${inFlight} at once`);
        const direct: DirectRun = await runDirect({
          mode: 'stream',
          source,
          backup,
          keys: phase.keys,
          destPrefix: 'direct/',
          concurrency: inFlight,
          partSizeMb: PART_SIZE_MB,
          partQueueSize: PART_QUEUE_SIZE,
        });
        const directRate = mibPerSecond(direct.bytes, direct.elapsedMs);
        log(`  ${round(directRate)} MiB/s, peak RSS ${mib(direct.maxRssBytes)}`);
        log(`${phase.name}: worker, WORKER_CONCURRENCY=${CONCURRENCY}`);
        const worker: WorkerRun = await runWorkers({
          source,
          backup,
          workers: 1,
          concurrency: CONCURRENCY,
          keys: phase.keys,
          objectBytes: phase.objectBytes,
          destPrefix: 'worker/',
          env: { PART_SIZE_MB: String(PART_SIZE_MB), PART_QUEUE_SIZE: String(PART_QUEUE_SIZE) },
          rabbit,
          timeoutMs: 300_000,
        });
        const boundBytes =
          (PART_SIZE_MB * PART_QUEUE_SIZE * inFlight + RSS_HEADROOM_MIB) * MIB +
          worker.idleRssBytes;
        const bytes = phase.objectBytes * phase.keys.length;
        const workerRate = mibPerSecond(bytes, worker.elapsedMs);
        log(`  ${round(workerRate)} MiB/s, peak RSS ${mib(worker.peakRssBytes)}`);
        const speed = ratio(workerRate, directRate);
        rows.push(
          row(
            {
              measure: `${phase.name}: MiB/s`,
              value: `${round(workerRate)} MiB/s`,
              ceiling: `${round(directRate)} MiB/s (direct stream copy)`,
              ratio: `${round(speed, 2)}×`,
              target: '≥ 0.8×',
            },
            speed >= 0.8,
          ),
          row(
            {
              measure: `${phase.name}: worker peak RSS`,
              value: mib(worker.peakRssBytes),
              ceiling: `${mib(boundBytes)} = ${PART_SIZE_MB} MiB × ${PART_QUEUE_SIZE} × ${inFlight} + idle ${mib(worker.idleRssBytes)} + ${RSS_HEADROOM_MIB} MiB`,
              ratio: `${round(worker.peakRssBytes / boundBytes, 2)}×`,
              target: '≤ 1×',
            },
            worker.peakRssBytes <= boundBytes,
          ),
        );
        const cpu = (seconds: number | undefined) => `${round(seconds ?? 0, 1)} s`;
        diagnosis.push(
          `${phase.name}: worker CPU ${cpu(worker.cpuSeconds.workers)}, source s3rver ${cpu(worker.cpuSeconds.source)}, ` +
            `backup s3rver ${cpu(worker.cpuSeconds.backup)} over ${round(worker.elapsedMs / 1000, 1)} s; direct copy CPU ` +
            `${cpu(direct.cpuSeconds)}, source ${cpu(direct.serverCpuSeconds.source)}, backup ${cpu(direct.serverCpuSeconds.backup)} ` +
            `over ${round(direct.elapsedMs / 1000, 1)} s. Worker RSS idle ${mib(worker.idleRssBytes)}, peak ${mib(worker.peakRssBytes)}; ` +
            `direct copy peak ${mib(direct.maxRssBytes)}.`,
        );
        const { done: _done, metrics: _metrics, ...workerFigures } = worker;
        measurements[phase.name] = {
          worker: { ...workerFigures, mibPerSecond: workerRate },
          direct: { ...direct, mibPerSecond: directRate },
          boundBytes,
        };
      }
      rows.push(
        infoRow({
          measure: 'settings',
          value: `PART_SIZE_MB=${PART_SIZE_MB}, PART_QUEUE_SIZE=${PART_QUEUE_SIZE}, WORKER_CONCURRENCY=${CONCURRENCY}`,
          ceiling: 'the same part size, queue size and objects at once',
          ratio: '',
        }),
      );
      return {
        settings: {
          partSizeMb: PART_SIZE_MB,
          partQueueSize: PART_QUEUE_SIZE,
          workerConcurrency: CONCURRENCY,
          rssHeadroomMiB: RSS_HEADROOM_MIB,
          phases: PHASES.map((phase) => ({
            name: phase.name,
            objects: phase.keys.length,
            objectBytes: phase.objectBytes,
          })),
          rss: "the worker process's VmHWM (kernel high-water mark), a fresh worker per phase",
        },
        measurements,
        rows,
        diagnosis,
        notes: [
          's3rver assembles a multipart object by reading every part back and writing the whole object at CompleteMultipartUpload; both sides pay it.',
        ],
      };
    } finally {
      await Promise.all([source.close(), backup.close()]);
    }
  },
};
