import { randomUUID } from 'node:crypto';
import { Command, Option } from 'commander';
import { createTask, type Config, type Task, type TaskKind } from '@s3relay/core';
import { Publisher } from '@s3relay/core/amqp';
import { withBroker } from '../broker-session.js';
import { addBrokerOptions, brokerOverrides, type BrokerFlags } from '../common-options.js';
import { configFromFlags } from '../config-from-flags.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { positiveInt, positiveIntOrAll } from '../flag-parsers.js';
import { table, type Output } from '../output.js';
import { createProgress } from '../progress.js';
import type { KeyComparison } from '../sync/compare.js';
import { DEFAULT_MAX_DELETE, decideExtras, type ExtrasDecision } from '../sync/extras-decision.js';
import { KeySpool } from '../sync/key-spool.js';
import { scanBucket, type ScanCounts } from '../sync/scan.js';
import { openSides, type Sides } from '../sync/s3-sides.js';
import { TaskBatcher } from '../sync/task-batcher.js';
import { s3Failure } from './s3-failure.js';

interface ResyncFlags extends BrokerFlags {
  bucket: string;
  prefix?: string;
  dryRun?: boolean;
  tags?: boolean;
  delete?: boolean;
  maxDelete: number | 'all';
  allowEmptySource?: boolean;
  concurrency: number;
}

/** Differences kept for the output (the counts cover every key). */
const LISTED_DIFFERENCES = 1000;

/** `s3relay resync`: enqueue a copy for every missing or stale key; deletes of extras on request. */
export function resyncCommand(output: () => Output, env: NodeJS.ProcessEnv): Command {
  return addBrokerOptions(
    new Command('resync')
      .description(
        'list source and backup and enqueue a task per key that is missing or different in the ' +
          'backup (backfill existing objects, heal missed webhooks); extra backup objects are ' +
          'only reported unless --delete',
      )
      .requiredOption('--bucket <bucket>', 'source bucket')
      .option('--prefix <prefix>', 'only keys under this prefix')
      .option('--dry-run', 'report what would be enqueued and deleted, enqueue nothing')
      .option(
        '--tags',
        'also compare the tags of keys that are otherwise equal (two GetObjectTagging per key)',
      )
      .option(
        '--delete',
        'also enqueue deletes of extra backup objects (each still checked against the source)',
      )
      .addOption(
        new Option(
          '--max-delete <n>',
          'with --delete: refuse when there are more extras than this (`all`: no limit)',
        )
          .argParser(positiveIntOrAll)
          .default(DEFAULT_MAX_DELETE),
      )
      .option(
        '--allow-empty-source',
        'with --delete: delete even when the source listing is empty while the backup is not',
      )
      .addOption(
        new Option('--concurrency <n>', 'keys compared at once').argParser(positiveInt).default(16),
      ),
  ).action(async (flags: ResyncFlags) => {
    const out = output();
    const config = configFromFlags(env, brokerOverrides(flags));
    if (flags.delete === true && !config.worker.replicateDeletes) {
      throw new CliError(
        ExitCode.usage,
        '--delete asks for deletes, but deletes are off (REPLICATE_DELETES=false or DELETE_LIMIT=0): the workers would not run them',
      );
    }
    const sides = openSides(config, flags.bucket, flags.concurrency);
    const spool = await KeySpool.create();
    try {
      const run = await resync(config, sides, spool, flags, out);
      report(out, flags, sides, run, config.worker.replicateDeletes);
    } catch (err) {
      throw s3Failure(err);
    } finally {
      sides.close();
      await spool.close();
    }
  });
}

interface ResyncRun {
  readonly counts: ScanCounts;
  readonly decision: ExtrasDecision;
  readonly differences: readonly KeyComparison[];
}

/**
 * Scans, enqueueing copies as it goes and setting extras aside, then decides about the extras
 * and enqueues their deletes when allowed. A dry run enqueues nothing.
 */
async function resync(
  config: Config,
  sides: Sides,
  spool: KeySpool,
  flags: ResyncFlags,
  out: Output,
): Promise<ResyncRun> {
  const runId = randomUUID();
  const progress = createProgress(out, flags.dryRun === true ? 'resync (dry run)' : 'resync');
  const differences: KeyComparison[] = [];
  const taskOf = (status: 'missing' | 'different' | 'extra', key: string): Task => {
    const kind: TaskKind = status === 'extra' ? 'removed' : 'created';
    return createTask({
      origin: 'resync',
      eventName: `Resync:${status}`,
      kind,
      bucket: flags.bucket,
      key,
      size: null,
      eTag: null,
      versionId: null,
      sequencer: runId,
      eventTime: null,
    });
  };
  const run = async (enqueue: (task: Task) => Promise<void>): Promise<ResyncRun> => {
    const counts = await scanBucket(sides, {
      prefix: flags.prefix ?? '',
      deep: false,
      tags: flags.tags === true,
      concurrency: flags.concurrency,
      onProgress: (current) => progress.update(current),
      onKey: async (comparison) => {
        if (comparison.status === 'equal') return;
        if (differences.length < LISTED_DIFFERENCES) differences.push(comparison);
        if (comparison.status === 'extra') await spool.add(comparison.key);
        else await enqueue(taskOf(comparison.status, comparison.key));
      },
    });
    progress.done(counts);
    const decision = decideExtras({
      extras: counts.extra,
      sourceObjects: counts.equal + counts.missing + counts.different,
      wantDelete: flags.delete === true,
      maxDelete: flags.maxDelete,
      allowEmptySource: flags.allowEmptySource === true,
      sourceBucket: flags.bucket,
      prefix: flags.prefix ?? '',
      backupBucket: sides.backupBucket,
    });
    if (decision.action === 'delete') {
      for await (const key of spool.keys()) await enqueue(taskOf('extra', key));
    }
    return { counts, decision, differences };
  };
  if (flags.dryRun === true) return run(() => Promise.resolve());
  return withBroker(config, async ({ broker }) => {
    const publisher = new Publisher(broker, {
      timeoutMs: config.amqp.publishTimeoutMs,
      maxInFlight: 10_000,
    });
    const batcher = new TaskBatcher(publisher, broker.names.tasks);
    try {
      const result = await run((task) => batcher.add(task));
      await batcher.flush();
      return result;
    } finally {
      await publisher.close();
    }
  });
}

/** Prints the counts and what became of the extras; a refusal ends with exit 1. */
function report(
  out: Output,
  flags: ResyncFlags,
  sides: Sides,
  run: ResyncRun,
  deletesOn: boolean,
): void {
  const { counts, decision, differences } = run;
  const dryRun = flags.dryRun === true;
  const copies = counts.missing + counts.different;
  const deletes = decision.action === 'delete' ? counts.extra : 0;
  out.result({
    bucket: flags.bucket,
    backupBucket: sides.backupBucket,
    dryRun,
    ...counts,
    enqueued: dryRun ? 0 : copies + deletes,
    copies,
    deletes,
    extras: decision.action,
    refusal: decision.action === 'refuse' ? decision.reason : undefined,
    differences,
  });
  out.line(
    table(
      ['COMPARED', 'EQUAL', 'MISSING', 'DIFFERENT', 'EXTRA', 'ENQUEUED'],
      [
        [
          counts.compared,
          counts.equal,
          counts.missing,
          counts.different,
          counts.extra,
          dryRun ? 0 : copies + deletes,
        ].map(String),
      ],
    ),
  );
  if (counts.extra > 0 && counts.equal + counts.missing + counts.different === 0) {
    out.warn(
      `warning: the source listing of bucket "${flags.bucket}" is empty while the backup ` +
        `"${sides.backupBucket}" holds ${counts.extra} objects: check SOURCE_S3_ENDPOINT, the ` +
        'credentials and the bucket name',
    );
  }
  const extras =
    decision.action === 'delete'
      ? `${dryRun ? 'would delete' : 'enqueued deletes of'} ${counts.extra} extra backup objects ` +
        '(each deleted only if the source answers NoSuchKey, within DELETE_LIMIT)'
      : decision.action === 'report' && counts.extra > 0
        ? `${counts.extra} extra backup objects (in the backup, not in the source) left alone: ` +
          (deletesOn
            ? '--delete enqueues their deletes'
            : 'deletes are off (REPLICATE_DELETES=false or DELETE_LIMIT=0)')
        : undefined;
  if (dryRun) {
    out.line(
      `dry run: would copy ${copies} objects and delete ${deletes} backup objects` +
        (decision.action === 'refuse' ? ' (deleting the extras would be refused, see below)' : ''),
    );
  }
  if (extras !== undefined) out.line(extras);
  if (dryRun && differences.length > 0) {
    out.line();
    out.line(
      table(
        ['STATUS', 'KEY'],
        differences.map((d) => [d.status, d.key]),
      ),
    );
  }
  if (decision.action === 'refuse') {
    throw new CliError(
      ExitCode.problemsFound,
      copies > 0 && !dryRun
        ? `${decision.reason} (the ${copies} copies were enqueued)`
        : decision.reason,
    );
  }
}
