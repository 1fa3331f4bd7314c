import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Command, Option } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { backupBucket, backupKey, classifyS3Error, createS3Client } from '@s3relay/core/s3';
import { forEachConcurrent } from '../concurrency.js';
import { configFromFlags } from '../config-from-flags.js';
import { assertReplicated } from '../sync/s3-sides.js';
import { confirm } from '../confirm.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { pointInTime, positiveInt } from '../flag-parsers.js';
import { applyRestoreAction } from '../history/restore-copy.js';
import { planRestore, type RestoreAction, type RestoreSides } from '../history/restore-plan.js';
import { requireHistory } from '../history/versioning.js';
import { table, type Output } from '../output.js';
import { createProgress } from '../progress.js';
import { s3Failure } from './s3-failure.js';

interface RestoreFlags {
  bucket: string;
  prefix?: string;
  at: Date;
  toBucket?: string;
  toPrefix?: string;
  inPlace?: boolean;
  dryRun?: boolean;
  yes?: boolean;
  concurrency: number;
}

const MiB = 1024 * 1024;

/**
 * `s3relay restore --at`: rebuilds the source's state at a moment from the backup's versions.
 * Three passes: plan (every key's deciding versions, the actions written to a temporary file so
 * that memory stays bounded and the totals are known), apply (in parallel, with progress and an
 * ETA), and verify (planning again must find nothing left to do). Interrupted, it can simply be
 * run again: keys already right are skipped.
 */
export function restoreCommand(output: () => Output, env: NodeJS.ProcessEnv): Command {
  return new Command('restore')
    .description(
      "rebuild a source bucket (or a prefix) as it was at a moment, from the backup's versions",
    )
    .requiredOption('--bucket <bucket>', 'source bucket whose history to restore')
    .option('--prefix <prefix>', 'only keys under this prefix')
    .requiredOption(
      '--at <time>',
      'the moment, by the source\'s clock: ISO 8601 (2026-12-05T15:30:00Z) or an age ("18h ago")',
      (raw: string) => pointInTime(raw),
    )
    .option(
      '--to-bucket <bucket>',
      'write into this bucket of the source store (default: --bucket)',
    )
    .option('--to-prefix <prefix>', 'put this before every restored key')
    .option('--in-place', 'write into the source bucket itself, over the current objects')
    .option('--dry-run', 'plan and report, write nothing')
    .option('-y, --yes', 'do not ask before writing into the source bucket')
    .addOption(
      new Option('--concurrency <n>', 'keys handled at once').argParser(positiveInt).default(16),
    )
    .action(async (flags: RestoreFlags) => {
      const out = output();
      const config = configFromFlags(env, {});
      assertReplicated(config, flags.bucket);
      const { at } = flags;
      if (at.getTime() > Date.now()) {
        throw new CliError(ExitCode.usage, `--at ${at.toISOString()} is in the future`);
      }
      const inPlace = flags.inPlace === true;
      if (inPlace === (flags.toBucket !== undefined || flags.toPrefix !== undefined)) {
        throw new CliError(
          ExitCode.usage,
          'say where to restore: --in-place, or --to-bucket and/or --to-prefix',
        );
      }
      const targetBucket = flags.toBucket ?? flags.bucket;
      const backup = createS3Client(config.dest, { maxSockets: flags.concurrency * 2 });
      const target = createS3Client(config.source, { maxSockets: flags.concurrency * 2 });
      const sides: RestoreSides = {
        backup,
        backupBucket: backupBucket(config.dest, flags.bucket),
        backupRoot: backupKey(config.dest, flags.bucket, ''),
        target,
        targetBucket,
        targetRoot: flags.toPrefix ?? '',
      };
      const prefix = flags.prefix ?? '';
      const workDir = await mkdtemp(join(tmpdir(), 's3relay-restore-'));
      try {
        await requireHistory(backup, sides.backupBucket, (text) => out.warn(text));
        const intoSource = targetBucket === flags.bucket;
        const where = `s3://${targetBucket}/${sides.targetRoot}${prefix}`;
        const planFile = join(workDir, 'plan.jsonl');
        const started = Date.now();
        const plan = await writePlan(
          sides,
          { prefix, at, concurrency: flags.concurrency },
          out,
          planFile,
        );
        const planMs = Date.now() - started;
        const summary = {
          bucket: flags.bucket,
          backupBucket: sides.backupBucket,
          at: at.toISOString(),
          target: where,
          dryRun: flags.dryRun === true,
          ...plan,
        };
        out.line(
          table(
            ['KEYS', 'UNCHANGED', 'WRITE', 'DELETE', 'ABSENT', 'UNTRACKED', 'MiB'],
            [
              [plan.keys, plan.unchanged, plan.write, plan.delete, plan.absent, plan.untracked]
                .map(String)
                .concat((plan.bytes / MiB).toFixed(1)),
            ],
          ),
        );
        if (plan.untracked > 0) {
          out.line(
            `${plan.untracked} keys of the target have no history in the backup: left alone`,
          );
        }
        if (flags.dryRun === true || plan.write + plan.delete === 0) {
          out.result({
            ...summary,
            applied: false,
            verified: plan.write + plan.delete === 0,
            timings: { planMs },
          });
          out.line(
            plan.write + plan.delete === 0
              ? `${where} is already as the source was at ${at.toISOString()}`
              : 'dry run: nothing written',
          );
          return;
        }
        if (intoSource && flags.yes !== true) {
          const yes = await confirm(
            `Write ${plan.write} objects and delete ${plan.delete} in the source bucket ` +
              `${flags.bucket} (${where}) to make it as it was at ${at.toISOString()}?`,
            'refusing to write into the source bucket',
          );
          if (!yes) {
            out.warn('nothing restored');
            return;
          }
        }
        const applyStarted = Date.now();
        await applyPlan(sides, planFile, plan, flags.concurrency, out, {
          partSizeBytes: config.worker.partSizeBytes,
          partQueueSize: config.worker.partQueueSize,
          idleTimeoutMs: config.worker.sourceIdleTimeoutMs,
        });
        const applyMs = Date.now() - applyStarted;
        // The verification: planning again must find nothing left to do.
        const verifyStarted = Date.now();
        const left: RestoreAction[] = [];
        const check = await planRestore(sides, {
          prefix,
          at,
          concurrency: flags.concurrency,
          onAction: (action) => {
            if (left.length < 100) left.push(action);
            return Promise.resolve();
          },
        });
        const verified = check.write + check.delete === 0;
        const timings = { planMs, applyMs, verifyMs: Date.now() - verifyStarted };
        out.result({ ...summary, applied: true, verified, timings, left: left.map(describe) });
        if (!verified) {
          throw new CliError(
            ExitCode.problemsFound,
            `after the restore ${check.write + check.delete} keys still differ (changed meanwhile?), ` +
              `e.g. ${left
                .slice(0, 5)
                .map((a) => a.key)
                .join(', ')}; run it again`,
          );
        }
        out.line(`restored ${where} to ${at.toISOString()}; verified`);
      } catch (err) {
        throw s3Failure(err);
      } finally {
        backup.destroy();
        target.destroy();
        await rm(workDir, { recursive: true, force: true });
      }
    });
}

/** The plan pass: actions to a file, one JSON line each; resolves with the counts. */
async function writePlan(
  sides: RestoreSides,
  options: { prefix: string; at: Date; concurrency: number },
  out: Output,
  file: string,
) {
  const stream = createWriteStream(file);
  const progress = createProgress(out, 'restore: planning');
  // One wait for every writer that found the buffer full.
  let drained: Promise<void> | undefined;
  try {
    const counts = await planRestore(sides, {
      ...options,
      onProgress: (c) => progress.update({ ...c }),
      onAction: async (action) => {
        if (!stream.write(`${JSON.stringify(action)}\n`)) {
          drained ??= new Promise<void>((resolve) =>
            stream.once('drain', () => {
              drained = undefined;
              resolve();
            }),
          );
          await drained;
        }
      },
    });
    progress.done({ ...counts });
    return counts;
  } finally {
    await new Promise<void>((resolve) => stream.end(() => resolve()));
  }
}

/** The apply pass: the planned actions in parallel, with progress and an ETA by bytes. */
async function applyPlan(
  sides: RestoreSides,
  file: string,
  plan: { write: number; delete: number; bytes: number },
  concurrency: number,
  out: Output,
  settings: Parameters<typeof applyRestoreAction>[2],
) {
  const total = plan.write + plan.delete;
  const started = Date.now();
  let done = 0;
  let bytes = 0;
  const progress = createProgress(out, 'restore');
  const counters = () => {
    const seconds = (Date.now() - started) / 1000;
    const rate = bytes / Math.max(seconds, 0.001);
    const keyRate = done / Math.max(seconds, 0.001);
    const remaining =
      plan.bytes > 0 && bytes > 0 ? (plan.bytes - bytes) / rate : (total - done) / keyRate;
    return {
      keys: `${done}/${total}`,
      MiB: `${(bytes / MiB).toFixed(1)}/${(plan.bytes / MiB).toFixed(1)}`,
      'MiB/s': (rate / MiB).toFixed(1),
      eta: done === 0 ? '?' : `${Math.ceil(Math.max(0, remaining))} s`,
    };
  };
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  await forEachConcurrent(lines, concurrency, async (line) => {
    const action = JSON.parse(line) as RestoreAction;
    await withRetries(() => applyRestoreAction(sides, action, settings));
    done += 1;
    if (action.kind === 'write') bytes += action.version.size;
    progress.update(counters());
  });
  progress.done(counters());
}

/** Attempts of one action whose failures are transient (a reset, a 503) before giving up. */
const ATTEMPTS = 5;

/**
 * Retries an action after a transient failure, waiting 0.5, 1, 2 and 4 s: one connection reset
 * must not end a restore of millions of keys. A permanent failure ends it at once (run it
 * again once fixed; what was written is skipped).
 */
async function withRetries(work: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await work();
      return;
    } catch (err) {
      if (attempt >= ATTEMPTS || !classifyS3Error(err).retryable) throw err;
      await sleep(500 * 2 ** (attempt - 1));
    }
  }
}

function describe(action: RestoreAction) {
  return action.kind === 'write'
    ? { key: action.key, action: 'write', versionId: action.version.versionId }
    : { key: action.key, action: 'delete' };
}
