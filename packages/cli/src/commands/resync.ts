import { Command, Option } from 'commander';
import { Publisher } from '@s3relay/core/amqp';
import { withBroker } from '../broker-session.js';
import { addBrokerOptions, brokerOverrides, type BrokerFlags } from '../common-options.js';
import { configFromFlags } from '../config-from-flags.js';
import { table, type Output } from '../output.js';
import { createProgress } from '../progress.js';
import { runResync, type ResyncOptions, type ResyncReport } from '../sync/resync.js';
import { positiveInt } from '../flag-parsers.js';
import { s3Failure } from './s3-failure.js';

interface ResyncFlags extends BrokerFlags {
  bucket: string;
  prefix?: string;
  dryRun?: boolean;
  tags?: boolean;
  concurrency: number;
}

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
    const dryRun = flags.dryRun === true;
    const progress = createProgress(out, dryRun ? 'resync (dry run)' : 'resync');
    const options: ResyncOptions = {
      bucket: flags.bucket,
      prefix: flags.prefix ?? '',
      concurrency: flags.concurrency,
      tags: flags.tags === true,
      dryRun,
      onProgress: (counts) => progress.update(counts),
    };
    let report: ResyncReport;
    try {
      report = dryRun
        ? await runResync(config, options)
        : await withBroker(config, async ({ broker }) => {
            const publisher = new Publisher(broker, {
              timeoutMs: config.amqp.publishTimeoutMs,
              maxInFlight: 10_000,
            });
            try {
              return await runResync(config, options, { publisher, queue: broker.names.tasks });
            } finally {
              await publisher.close();
            }
          });
    } catch (err) {
      throw s3Failure(err);
    }
    const { compared, equal, missing, different, extra, enqueued, extraLeftAlone } = report;
    progress.done({ compared, equal, missing, different, extra });
    const { differences } = report;
    out.result({
      bucket: report.bucket,
      backupBucket: report.backupBucket,
      dryRun,
      compared,
      equal,
      missing,
      different,
      extra,
      enqueued,
      differences,
    });
    out.line(
      table(
        ['COMPARED', 'EQUAL', 'MISSING', 'DIFFERENT', 'EXTRA', 'ENQUEUED'],
        [[compared, equal, missing, different, extra, enqueued].map(String)],
      ),
    );
    if (extraLeftAlone > 0) {
      out.line(`${extraLeftAlone} extra backup objects left alone: REPLICATE_DELETES is off`);
    }
    if (dryRun && differences.length > 0) {
      out.line();
      out.line(
        table(
          ['STATUS', 'KEY'],
          differences.map((d) => [d.status, d.key]),
        ),
      );
    }
  });
}
