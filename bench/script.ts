import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rabbitPid, runToEnd } from './lib/processes.js';
import { BACKUP_BUCKET, SOURCE_BUCKET, runWorkers, type WorkerRun } from './lib/replication.js';
import { infoRow, row, type BenchOutcome, type Benchmark, type BenchResult } from './lib/report.js';
import {
  S3_CREDENTIALS,
  S3_REGION,
  s3Client,
  startS3Server,
  type S3Server,
} from './lib/s3-server.js';
import { keyList, seedSmallObjects } from './lib/seed.js';
import { ratio, round } from './lib/stats.js';

/** Objects of the script runs: the aws CLI takes about a second per object. */
const SCRIPT_OBJECTS = 30;
/** Objects of the replicate run this compares with, when the small-object benchmark did not run. */
const FALLBACK_OBJECTS = 1000;
const OBJECT_BYTES = 1024;
const DEFAULT_SHAPE = { workers: 1, concurrency: 32 };

/**
 * The original server's script, as its README showed it: download the object with the aws CLI,
 * upload it to the backup, one process pair per event.
 */
function scriptText(aws: string, source: S3Server, backup: S3Server): string {
  return `#!/bin/sh
# What the original s3-webhook server ran per event: <script> <bucket> <key> copy|delete.
set -e
export AWS_ACCESS_KEY_ID=${S3_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${S3_CREDENTIALS.secretAccessKey}
export AWS_DEFAULT_REGION=${S3_REGION}
export AWS_REQUEST_CHECKSUM_CALCULATION=when_required AWS_RESPONSE_CHECKSUM_VALIDATION=when_required
bucket="$1"; key="$2"
case "$3" in
  copy)
    tmp=$(mktemp)
    trap 'rm -f "$tmp"' EXIT
    ${aws} --endpoint-url ${source.endpoint} s3 cp "s3://$bucket/$key" "$tmp" --only-show-errors
    ${aws} --endpoint-url ${backup.endpoint} s3 cp "$tmp" "s3://${BACKUP_BUCKET}/script/$key" --only-show-errors
    ;;
  delete)
    ${aws} --endpoint-url ${backup.endpoint} s3 rm "s3://${BACKUP_BUCKET}/script/$key" --only-show-errors
    ;;
esac
`;
}

/** The absolute path of the aws CLI, or undefined when it is not installed. */
async function findAws(): Promise<{ path: string; version: string } | undefined> {
  const found = await runToEnd('sh', ['-c', 'command -v aws && aws --version']).catch(
    () => undefined,
  );
  if (found?.code !== 0) return undefined;
  const [path = 'aws', ...version] = `${found.stdout}${found.stderr}`.trim().split('\n');
  return { path, version: version.join(' ').trim() };
}

/** The replicate rate to compare with: the small-object benchmark's best in this run. */
function replicateRate(results: ReadonlyMap<string, BenchResult>) {
  const runs =
    (
      results.get('small-objects')?.measurements as
        | { workers?: { workers: number; concurrency: number; objectsPerSecond: number }[] }
        | undefined
    )?.workers ?? [];
  if (runs.length === 0) return undefined;
  return runs.reduce((a, b) => (b.objectsPerSecond > a.objectsPerSecond ? b : a));
}

export const scriptBenchmark: Benchmark = {
  name: 'script',
  title:
    'the original approach (ACTION=script with `aws s3 cp` down and up per object) against replication, objects of 1 KiB',
  async run({ log, results }): Promise<BenchOutcome> {
    const aws = await findAws();
    if (aws === undefined) {
      return {
        settings: {},
        measurements: { awsCli: null },
        rows: [
          infoRow({
            measure: 'speed-up over the original script approach',
            value: 'not measured: the aws CLI is not installed',
            ceiling: '',
            ratio: '',
          }),
        ],
        diagnosis: [],
        notes: [
          'Install the aws CLI (e.g. `pip install awscli`) to measure the original approach.',
        ],
      };
    }
    const rabbit = await rabbitPid();
    const [source, backup] = await Promise.all([
      startS3Server([SOURCE_BUCKET]),
      startS3Server([BACKUP_BUCKET]),
    ]);
    const directory = await mkdtemp(join(tmpdir(), 's3relay-bench-script-'));
    try {
      const script = join(directory, 'backup.sh');
      await writeFile(script, scriptText(aws.path, source, backup));
      await chmod(script, 0o755);
      let replicate = replicateRate(results);
      const keys = keyList('small/', replicate === undefined ? FALLBACK_OBJECTS : SCRIPT_OBJECTS);
      log(`seeding ${keys.length} objects of ${OBJECT_BYTES} bytes`);
      const seeder = s3Client(source.endpoint);
      await seedSmallObjects(seeder, SOURCE_BUCKET, keys, OBJECT_BYTES);
      seeder.destroy();
      if (replicate === undefined) {
        log(
          `the small-object benchmark did not run: replicating ${FALLBACK_OBJECTS} objects, ${DEFAULT_SHAPE.workers} × ${DEFAULT_SHAPE.concurrency}`,
        );
        const run = await runWorkers({
          source,
          backup,
          ...DEFAULT_SHAPE,
          keys,
          objectBytes: OBJECT_BYTES,
          destPrefix: 'replicate/',
          rabbit,
          timeoutMs: 120_000,
        });
        replicate = {
          workers: run.workers,
          concurrency: run.concurrency,
          objectsPerSecond: run.objectsPerSecond,
        };
      }
      const sample = keys.slice(0, SCRIPT_OBJECTS);
      const scriptRun = async (concurrency: number): Promise<WorkerRun> => {
        log(`ACTION=script, WORKER_CONCURRENCY=${concurrency}, ${sample.length} objects`);
        const run = await runWorkers({
          source,
          backup,
          workers: 1,
          concurrency,
          keys: sample,
          objectBytes: OBJECT_BYTES,
          destPrefix: 'unused/',
          env: { ACTION: 'script', ACTION_SCRIPT: script },
          rabbit,
          timeoutMs: 300_000,
        });
        log(`  ${round(run.objectsPerSecond, 2)} objects/s`);
        return run;
      };
      // One script at a time is what the original server did: it ran the script inside the request.
      const serial = await scriptRun(1);
      const parallel = await scriptRun(replicate.concurrency);
      const speedUp = ratio(replicate.objectsPerSecond, serial.objectsPerSecond);
      const speedUpParallel = ratio(replicate.objectsPerSecond, parallel.objectsPerSecond);
      const failed = [serial, parallel].flatMap((run) =>
        Object.entries(run.outcomes)
          .filter(([outcome]) => outcome !== 'executed')
          .map(([outcome, n]) => `${n} ${outcome}`),
      );
      const perObjectMs = (run: WorkerRun) =>
        round(((run.cpuSeconds.workers ?? 0) * 1000) / run.objects);
      const strip = ({ done: _done, metrics: _metrics, ...figures }: WorkerRun) => figures;
      return {
        settings: {
          awsCli: aws.version,
          scriptObjects: SCRIPT_OBJECTS,
          objectBytes: OBJECT_BYTES,
          script:
            'aws s3 cp source → temporary file, aws s3 cp temporary file → backup (see bench/script.ts)',
          replicate: replicate,
        },
        measurements: {
          serial: strip(serial),
          parallel: strip(parallel),
          replicateObjectsPerSecond: replicate.objectsPerSecond,
        },
        rows: [
          row(
            {
              measure: 'replication ÷ the original approach (one script at a time)',
              value: `${round(replicate.objectsPerSecond)}/s (replicate, ${replicate.workers} × ${replicate.concurrency})`,
              ceiling: `${round(serial.objectsPerSecond, 2)}/s (script, 1 at a time)`,
              ratio: `${Math.round(speedUp)}×`,
              target: '≥ 200×',
            },
            speedUp >= 200 && failed.length === 0,
          ),
          infoRow({
            measure: `… the script at WORKER_CONCURRENCY=${replicate.concurrency}`,
            value: `${round(replicate.objectsPerSecond)}/s`,
            ceiling: `${round(parallel.objectsPerSecond, 2)}/s (script, ${replicate.concurrency} at once)`,
            ratio: `${Math.round(speedUpParallel)}×`,
          }),
        ],
        diagnosis: [
          `The script costs ${perObjectMs(serial)} ms of CPU per object in the worker and its scripts (two Python ` +
            `interpreter starts and their requests) one at a time, ${perObjectMs(parallel)} ms at ` +
            `${replicate.concurrency} at once; replication costs a few ms (see small-objects).`,
          ...(failed.length > 0 ? [`Script tasks not executed: ${failed.join(', ')}.`] : []),
        ],
        notes: [
          `The replicate rate is the small-object benchmark's best of this run (${replicate.workers} × ${replicate.concurrency}); ` +
            'the script runs use the same objects, servers and queue, only ACTION differs.',
        ],
      };
    } finally {
      await rm(directory, { recursive: true, force: true });
      await Promise.all([source.close(), backup.close()]);
    }
  },
};
