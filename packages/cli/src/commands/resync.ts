import { randomUUID } from 'node:crypto';
import { Command, Option } from 'commander';
import { createTask, type Task, type TaskKind } from '@s3relay/core';
import { Publisher } from '@s3relay/core/amqp';
import { withBroker } from '../broker-session.js';
import { addBrokerOptions, brokerOverrides, type BrokerFlags } from '../common-options.js';
import { configFromFlags } from '../config-from-flags.js';
import { table, type Output } from '../output.js';
import { createProgress } from '../progress.js';
import type { KeyComparison } from '../sync/compare.js';
import { scanBucket } from '../sync/scan.js';
import { openSides } from '../sync/s3-sides.js';
import { TaskBatcher } from '../sync/task-batcher.js';
import { positiveInt } from '../flag-parsers.js';
import { s3Failure } from './s3-failure.js';

interface ResyncFlags extends BrokerFlags {
  bucket: string;
  prefix?: string;
  dryRun?: boolean;
  tags?: boolean;
  concurrency: number;
}

const KIND: Readonly<Record<Exclude<KeyComparison['status'], 'equal'>, TaskKind>> = {
  missing: 'created',
  different: 'created',
  extra: 'removed',
};

/** `s3relay resync`: enqueue a task for every key whose backup is missing, stale or extra. */
export function resyncCommand(output: () => Output, env: NodeJS.ProcessEnv): Command {
  return addBrokerOptions(
    new Command('resync')
      .description(
        'list source and backup and enqueue one task per key that is missing, different or extra ' +
          '(backfill existing objects, heal missed webhooks)',
      )
      .requiredOption('--bucket <bucket>', 'source bucket')
      .option('--prefix <prefix>', 'only keys under this prefix')
      .option('--dry-run', 'report what would be enqueued, enqueue nothing')
      .option(
        '--tags',
        'also compare the tags of keys that are otherwise equal (two GetObjectTagging per key)',
      )
      .addOption(
        new Option('--concurrency <n>', 'keys compared at once').argParser(positiveInt).default(16),
      ),
  ).action(async (flags: ResyncFlags) => {
    const out = output();
    const config = configFromFlags(env, brokerOverrides(flags));
    const sides = openSides(config, flags.bucket, flags.concurrency);
    const runId = randomUUID();
    const progress = createProgress(out, flags.dryRun === true ? 'resync (dry run)' : 'resync');
    const differences: KeyComparison[] = [];
    const scan = async (enqueue: (task: Task) => Promise<void>) =>
      scanBucket(sides, {
        prefix: flags.prefix ?? '',
        deep: false,
        tags: flags.tags === true,
        concurrency: flags.concurrency,
        onProgress: (counts) => progress.update(counts),
        onKey: async (comparison) => {
          if (comparison.status === 'equal') return;
          if (comparison.status === 'extra' && !config.worker.replicateDeletes) return;
          if (differences.length < 1000) differences.push(comparison);
          await enqueue(
            createTask({
              origin: 'resync',
              eventName: `Resync:${comparison.status}`,
              kind: KIND[comparison.status],
              bucket: flags.bucket,
              key: comparison.key,
              size: null,
              eTag: null,
              versionId: null,
              sequencer: runId,
              eventTime: null,
            }),
          );
        },
      });
    try {
      const counts =
        flags.dryRun === true
          ? await scan(() => Promise.resolve())
          : await withBroker(config, async ({ broker }) => {
              const publisher = new Publisher(broker, {
                timeoutMs: config.amqp.publishTimeoutMs,
                maxInFlight: 10_000,
              });
              const batcher = new TaskBatcher(publisher, broker.names.tasks);
              try {
                const result = await scan((task) => batcher.add(task));
                await batcher.flush();
                return result;
              } finally {
                await publisher.close();
              }
            });
      progress.done(counts);
      const enqueued =
        flags.dryRun === true
          ? 0
          : counts.missing + counts.different + (config.worker.replicateDeletes ? counts.extra : 0);
      const summary = {
        bucket: flags.bucket,
        backupBucket: sides.backupBucket,
        dryRun: flags.dryRun === true,
        ...counts,
        enqueued,
      };
      out.result({ ...summary, differences });
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
              enqueued,
            ].map(String),
          ],
        ),
      );
      if (counts.extra > 0 && !config.worker.replicateDeletes) {
        out.line(`${counts.extra} extra backup objects left alone: REPLICATE_DELETES is off`);
      }
      if (flags.dryRun === true && differences.length > 0) {
        out.line();
        out.line(
          table(
            ['STATUS', 'KEY'],
            differences.map((d) => [d.status, d.key]),
          ),
        );
      }
    } catch (err) {
      throw s3Failure(err);
    } finally {
      sides.close();
    }
  });
}
