import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBucket } from '../test/helpers/ceph-buckets.js';
import { startCephRgw } from '../test/helpers/ceph-rgw.js';
import { AMQP_URL, benchPrefix, deleteQueues } from './lib/broker.js';
import { CLI, runToEnd } from './lib/processes.js';
import { row, type BenchOutcome, type Benchmark, type SummaryRow } from './lib/report.js';
import { keyList, seedSmallObjects } from './lib/seed.js';
import { ratio, round } from './lib/stats.js';
import { startWorkers } from './lib/workers.js';

const OBJECTS = 1000;
const OBJECT_BYTES = 16 * 1024;
const CONCURRENCY = 32;

/**
 * Restore against resync on the same objects, on a real Ceph RGW (restore needs a versioned
 * backup, which s3rver cannot be): resync fills the versioned backup from the source (resync
 * and one worker, timed until the backup lists every object), then `restore --at now` writes
 * every object back into an empty bucket (timed: plan and apply; its verification pass is
 * reported apart). Same objects, same store, the same concurrency on both sides.
 */
export const restoreBenchmark: Benchmark = {
  name: 'restore',
  title: `restoring ${OBJECTS.toLocaleString('en')} objects with \`s3relay restore --at\`, against \`s3relay resync\` of the same objects`,
  async run({ log }): Promise<BenchOutcome> {
    log('starting Ceph RGW');
    const ceph = await startCephRgw({ log: (line) => log(`  ceph: ${line}`) });
    const prefix = benchPrefix('restore');
    try {
      const source = ceph.client(ceph.users.source);
      const backup = ceph.client(ceph.users.backup);
      await createBucket(source, 'bench-source');
      await createBucket(source, 'bench-restored');
      await createBucket(backup, 'bench-backup', { versioned: true });
      const keys = keyList('objects/', OBJECTS);
      log(`seeding ${OBJECTS} objects of ${OBJECT_BYTES / 1024} KiB`);
      await seedSmallObjects(source, 'bench-source', keys, OBJECT_BYTES);
      const env = {
        AMQP_URL,
        AMQP_PREFIX: prefix,
        DEST_BUCKET: 'bench-backup',
        SOURCE_BUCKETS: 'bench-source',
        WORKER_CONCURRENCY: String(CONCURRENCY),
        METRICS_PORT: '0',
        LOG_LEVEL: 'warn',
        ...ceph.env('SOURCE', ceph.users.source),
        ...ceph.env('DEST', ceph.users.backup),
      };

      log(`s3relay resync with 1 worker × ${CONCURRENCY}`);
      // Started first: resync enqueues into the queues a worker declares.
      const worker = await startWorkers(1, { ...env, LOG_LEVEL: 'info' });
      let resyncMs: number;
      try {
        const started = Date.now();
        const resync = await runToEnd(
          process.execPath,
          [CLI, 'resync', '--bucket', 'bench-source', '--json'],
          env,
        );
        if (resync.code !== 0) throw new Error(`resync failed:\n${resync.stdout}${resync.stderr}`);
        await untilListed(backup, 'bench-backup', OBJECTS, 300_000);
        resyncMs = Date.now() - started;
      } finally {
        await worker.stop();
      }
      const resyncRate = OBJECTS / (resyncMs / 1000);
      log(`  ${round(resyncRate)} objects/s`);

      log(`s3relay restore --at now --concurrency ${CONCURRENCY}`);
      const started = Date.now();
      const restore = await runToEnd(
        process.execPath,
        [
          CLI,
          'restore',
          '--bucket',
          'bench-source',
          '--at',
          new Date().toISOString(),
          '--to-bucket',
          'bench-restored',
          '--concurrency',
          String(CONCURRENCY),
          '--json',
        ],
        env,
      );
      const totalMs = Date.now() - started;
      if (restore.code !== 0)
        throw new Error(`restore failed:\n${restore.stdout}${restore.stderr}`);
      const result = JSON.parse(restore.stdout) as {
        write: number;
        verified: boolean;
        timings: { planMs: number; applyMs: number; verifyMs: number };
      };
      const restoreMs = result.timings.planMs + result.timings.applyMs;
      const restoreRate = result.write / (restoreMs / 1000);
      log(`  ${round(restoreRate)} objects/s (verification ${result.timings.verifyMs} ms more)`);
      const speed = ratio(restoreRate, resyncRate);
      const rows: SummaryRow[] = [
        row(
          {
            measure: `objects/s, ${OBJECTS.toLocaleString('en')} × ${OBJECT_BYTES / 1024} KiB on Ceph RGW ÷ resync`,
            value: `${round(restoreRate)}/s (restore, plan + apply, ${CONCURRENCY} at once)`,
            ceiling: `${round(resyncRate)}/s (resync + 1 worker × ${CONCURRENCY})`,
            ratio: `${round(speed, 2)}×`,
            target: '≥ 0.8×',
          },
          speed >= 0.8,
        ),
        row(
          {
            measure: 'restored objects, verified by a second plan',
            value: `${result.write} of ${OBJECTS}, verified ${result.verified ? 'yes' : 'no'}`,
            ceiling: '',
            ratio: '',
            target: 'all, verified',
          },
          result.write === OBJECTS && result.verified,
        ),
      ];
      return {
        settings: { objects: OBJECTS, objectBytes: OBJECT_BYTES, concurrency: CONCURRENCY },
        measurements: { resyncMs, restore: result.timings, restoreTotalMs: totalMs },
        rows,
        diagnosis: [
          `restore: plan ${result.timings.planMs} ms (a version listing and a HEAD per key), apply ${result.timings.applyMs} ms (GET of the version, PUT), verification ${result.timings.verifyMs} ms (the plan again)`,
          `resync: ${resyncMs} ms from the listing to the last object in the backup (GET, PUT, HEAD per object in the worker)`,
        ],
        notes: [
          'Ceph RGW 16 on the same machine serves both sides; its own CPU is part of both figures.',
        ],
      };
    } finally {
      await deleteQueues(prefix).catch(() => undefined);
      await ceph.dispose();
    }
  },
};

async function untilListed(client: S3Client, bucket: string, count: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let listed = 0;
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }),
      );
      listed += page.KeyCount ?? 0;
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    if (listed >= count) return;
    if (Date.now() > deadline)
      throw new Error(`${bucket}: ${listed} of ${count} after ${timeoutMs} ms`);
    await sleep(200);
  }
}
