import { startS3Proxy } from '../test/helpers/s3-proxy.js';
import { AMQP_URL, benchPrefix } from './lib/broker.js';
import { CLI, rabbitPid, runToEnd } from './lib/processes.js';
import { rcloneCopy, rcloneEnv, rcloneVersion, type RcloneRun } from './lib/rclone.js';
import { BACKUP_BUCKET, SOURCE_BUCKET, runWorkers, type WorkerRun } from './lib/replication.js';
import {
  infoRow,
  row,
  type BenchOutcome,
  type Benchmark,
  type BenchResult,
  type SummaryRow,
} from './lib/report.js';
import { s3Client, startS3Server, type S3Server } from './lib/s3-server.js';
import { keyList, seedSmallObjects } from './lib/seed.js';
import { ratio, round } from './lib/stats.js';

const OBJECTS = 2000;
const OBJECT_BYTES = 1024;
const RCLONE_TRANSFERS = [16, 32] as const;
const DEFAULT_SHAPE = { workers: 1, concurrency: 32 };

function shapeFrom(results: ReadonlyMap<string, BenchResult>): {
  workers: number;
  concurrency: number;
} {
  const runs =
    (
      results.get('small-objects')?.measurements as
        | { workers?: { workers: number; concurrency: number; objectsPerSecond: number }[] }
        | undefined
    )?.workers ?? [];
  if (runs.length === 0) return DEFAULT_SHAPE;
  const best = runs.reduce((a, b) => (b.objectsPerSecond > a.objectsPerSecond ? b : a));
  return { workers: best.workers, concurrency: best.concurrency };
}

/** Objects of the pass through recording proxies that counts rclone's requests per object. */
const PROXY_SAMPLE = 200;

/** rclone's S3 requests per copied object, by operation, through recording proxies. */
async function rcloneRequests(source: S3Server, backup: S3Server): Promise<Record<string, number>> {
  const sourceProxy = await startS3Proxy({ endpoint: source.endpoint });
  const backupProxy = await startS3Proxy({ endpoint: backup.endpoint });
  try {
    const run = await runToEnd(
      'rclone',
      [
        'copy',
        `src:${SOURCE_BUCKET}`,
        `dst:${BACKUP_BUCKET}/rclone-proxied`,
        // existing/00000 … existing/00199
        '--include',
        'existing/00[01]*',
        '--transfers',
        '16',
        '--s3-no-check-bucket',
      ],
      rcloneEnv(sourceProxy, backupProxy),
    );
    if (run.code !== 0)
      throw new Error(`rclone copy failed (${run.code}):\n${run.stderr.slice(-2000)}`);
    const counts: Record<string, number> = {};
    for (const operation of [...sourceProxy.operations, ...backupProxy.operations]) {
      counts[operation.op] = (counts[operation.op] ?? 0) + 1;
    }
    return Object.fromEntries(
      Object.entries(counts).map(([op, count]) => [op, round(count / PROXY_SAMPLE, 2)]),
    );
  } finally {
    await Promise.all([sourceProxy.close(), backupProxy.close()]);
  }
}

export const resyncBenchmark: Benchmark = {
  name: 'resync',
  title: `backfilling ${OBJECTS.toLocaleString('en')} existing objects with \`s3relay resync\` and workers, against \`rclone copy\``,
  async run({ log, results, machine }): Promise<BenchOutcome> {
    const rabbit = await rabbitPid();
    const shape = shapeFrom(results);
    const perObjectMs = (seconds: number | undefined) =>
      round(((seconds ?? 0) * 1000) / OBJECTS, 2);
    const [source, backup] = await Promise.all([
      startS3Server([SOURCE_BUCKET]),
      startS3Server([BACKUP_BUCKET]),
    ]);
    try {
      const keys = keyList('existing/', OBJECTS);
      log(`seeding ${OBJECTS} objects of ${OBJECT_BYTES} bytes`);
      const seeder = s3Client(source.endpoint);
      await seedSmallObjects(seeder, SOURCE_BUCKET, keys, OBJECT_BYTES);
      seeder.destroy();

      const destPrefix = 'resync/';
      let resyncMs = 0;
      let resyncOutput = '';
      log(
        `s3relay resync --bucket ${SOURCE_BUCKET} with ${shape.workers} worker(s) × ${shape.concurrency} draining`,
      );
      const worker: WorkerRun = await runWorkers({
        source,
        backup,
        ...shape,
        keys,
        objectBytes: OBJECT_BYTES,
        destPrefix,
        rabbit,
        timeoutMs: 180_000,
        // Timed from here: the resync lists both sides and enqueues while the workers copy.
        enqueue: async (_queue, env) => {
          const started = Date.now();
          const run = await runToEnd(
            process.execPath,
            [CLI, 'resync', '--bucket', SOURCE_BUCKET, '--json'],
            env,
          );
          resyncMs = Date.now() - started;
          resyncOutput = run.stdout.trim();
          if (run.code !== 0)
            throw new Error(`s3relay resync failed (${run.code}):\n${run.stdout}\n${run.stderr}`);
        },
      });
      log(`  ${round(worker.objectsPerSecond)} objects/s (resync itself ${resyncMs} ms)`);
      const verify = await runToEnd(process.execPath, [CLI, 'verify', '--bucket', SOURCE_BUCKET], {
        AMQP_URL,
        AMQP_PREFIX: benchPrefix('verify'),
        SOURCE_BUCKETS: SOURCE_BUCKET,
        DEST_BUCKET: BACKUP_BUCKET,
        DEST_PREFIX: destPrefix,
        ...source.env('SOURCE'),
        ...backup.env('DEST'),
      });
      const equal = verify.code === 0;
      log(`  s3relay verify: ${equal ? 'backup equals source' : `exit ${verify.code}`}`);

      const version = await rcloneVersion();
      const rclone: RcloneRun[] = [];
      if (version !== undefined) {
        for (const transfers of RCLONE_TRANSFERS) {
          log(`rclone copy --transfers ${transfers}`);
          const run = await rcloneCopy({
            source,
            backup,
            from: SOURCE_BUCKET,
            to: `${BACKUP_BUCKET}/rclone-${transfers}`,
            transfers,
            objects: OBJECTS,
          });
          log(`  ${round(run.objectsPerSecond)} objects/s, ${run.copied} copied`);
          rclone.push(run);
        }
      } else {
        log('rclone is not installed: not compared');
      }
      const rcloneRequestsPerObject =
        version === undefined ? undefined : await rcloneRequests(source, backup);
      const bestRclone =
        rclone.length === 0
          ? undefined
          : rclone.reduce((a, b) => (b.objectsPerSecond > a.objectsPerSecond ? b : a));
      const speed =
        bestRclone === undefined
          ? Number.NaN
          : ratio(worker.objectsPerSecond, bestRclone.objectsPerSecond);
      const value = `${round(worker.objectsPerSecond)}/s (${shape.workers} × ${shape.concurrency})`;
      const rows: SummaryRow[] = [
        bestRclone === undefined
          ? infoRow({
              measure: `objects/s backfilling ${OBJECTS.toLocaleString('en')} × 1 KiB`,
              value,
              ceiling: 'not measured: rclone is not installed',
              ratio: '',
            })
          : row(
              {
                measure: `objects/s backfilling ${OBJECTS.toLocaleString('en')} × 1 KiB ÷ rclone copy`,
                value,
                ceiling: `${round(bestRclone.objectsPerSecond)}/s (rclone, ${bestRclone.transfers} transfers)`,
                ratio: `${round(speed, 2)}×`,
                target: '≥ 1.0×',
              },
              speed >= 1 && equal && bestRclone.copied === OBJECTS,
            ),
        infoRow({
          measure: 'backup equals source afterwards (s3relay verify)',
          value: equal ? 'yes' : `no (exit ${verify.code})`,
          ceiling: rclone
            .map(
              (run) =>
                `rclone ${run.transfers}: ${run.copied} copied, ${round(run.objectsPerSecond)}/s`,
            )
            .join('; '),
          ratio: '',
        }),
      ];
      const { done: _done, metrics: _metrics, ...workerFigures } = worker;
      return {
        settings: {
          objects: OBJECTS,
          objectBytes: OBJECT_BYTES,
          workers: shape.workers,
          workerConcurrency: shape.concurrency,
          resync:
            '`s3relay resync --bucket source` (default --concurrency 16) while the workers drain; timed from its start to the last `task done`',
          rclone: version ?? null,
          rcloneFlags: '--transfers N --checkers N --s3-no-check-bucket',
        },
        measurements: {
          rcloneRequestsPerObject,
          worker: workerFigures,
          resyncMs,
          resyncOutput: resyncOutput.slice(0, 2000),
          verifyExit: verify.code,
          rclone,
        },
        rows,
        diagnosis: [
          `The resync command (list both sides, compare, enqueue ${OBJECTS} tasks) took ${round(resyncMs / 1000, 1)} s of the ` +
            `${round(worker.elapsedMs / 1000, 1)} s; the workers copied while it enqueued. The copy rate is the small-object ` +
            "pipeline's (see small-objects for requests per object).",
          `CPU per object: workers ${perObjectMs(worker.cpuSeconds.workers)} ms, source s3rver ` +
            `${perObjectMs(worker.cpuSeconds.source)} ms, backup s3rver ${perObjectMs(worker.cpuSeconds.backup)} ms, ` +
            `RabbitMQ ${perObjectMs(worker.cpuSeconds.rabbitmq)} ms` +
            (bestRclone === undefined
              ? '.'
              : `; rclone (${bestRclone.transfers} transfers) ${perObjectMs(bestRclone.cpuSeconds)} ms.`) +
            ` The machine was ${round((100 * (worker.cpuSeconds.machine ?? 0)) / (worker.elapsedMs / 1000))} % busy ` +
            `(of ${machine.cores * 100} %) during the resync.`,
          ...(rcloneRequestsPerObject === undefined
            ? []
            : [
                `rclone's S3 requests per copied object (${PROXY_SAMPLE} objects through recording proxies): ` +
                  `${Object.entries(rcloneRequestsPerObject)
                    .map(([op, n]) => `${op} ${n}`)
                    .join(', ')}.`,
              ]),
        ],
        notes:
          bestRclone === undefined
            ? [
                'rclone is not installed (bench/setup.sh installs it with apt-get); the ratio was not measured.',
              ]
            : [],
      };
    } finally {
      await Promise.all([source.close(), backup.close()]);
    }
  },
};
