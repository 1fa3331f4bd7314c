import { Command, Option } from 'commander';
import { deletesReplicated } from '@s3relay/core';
import { Publisher } from '@s3relay/core/amqp';
import { withBroker } from '../broker-session.js';
import { addBrokerOptions, brokerOverrides, type BrokerFlags } from '../common-options.js';
import { configFromFlags } from '../config-from-flags.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { positiveInt, positiveIntOrAll } from '../flag-parsers.js';
import { table, type Output } from '../output.js';
import { createProgress } from '../progress.js';
import { DEFAULT_MAX_DELETE } from '../sync/extras-decision.js';
import { runResync, type ResyncOptions, type ResyncReport } from '../sync/resync.js';
import { s3Failure } from './s3-failure.js';

interface ResyncFlags extends BrokerFlags {
  bucket: string;
  prefix?: string;
  dryRun?: boolean;
  deep?: boolean;
  tags?: boolean;
  delete?: boolean;
  maxDelete: number | 'all';
  allowEmptySource?: boolean;
  concurrency: number;
}

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
        '--deep',
        'compare SHA-256 of both sides instead of provenance metadata (streams every object), and ' +
          'have the workers re-copy keys whose bytes differ although their metadata matches',
      )
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
    if (flags.delete === true && !deletesReplicated(config.worker)) {
      throw new CliError(
        ExitCode.usage,
        '--delete asks for deletes, but deletes are off (REPLICATE_DELETES=false or DELETE_LIMIT=0): the workers would not run them',
      );
    }
    const dryRun = flags.dryRun === true;
    const progress = createProgress(
      out,
      `resync${flags.deep === true ? ' (deep)' : ''}${dryRun ? ' (dry run)' : ''}`,
    );
    const options: ResyncOptions = {
      bucket: flags.bucket,
      prefix: flags.prefix ?? '',
      concurrency: flags.concurrency,
      tags: flags.tags === true,
      deep: flags.deep === true,
      dryRun,
      delete: flags.delete === true,
      maxDelete: flags.maxDelete,
      allowEmptySource: flags.allowEmptySource === true,
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
    const { compared, equal, missing, different, extra } = report;
    progress.done({ compared, equal, missing, different, extra });
    print(out, report, deletesReplicated(config.worker));
  });
}

/** Prints the counts and what became of the extras; a refusal ends with exit 1. */
function print(out: Output, report: ResyncReport, deletesOn: boolean): void {
  const { compared, equal, missing, different, extra, copies, deletes, dryRun } = report;
  out.result({
    bucket: report.bucket,
    backupBucket: report.backupBucket,
    dryRun,
    compared,
    equal,
    missing,
    different,
    extra,
    enqueued: report.enqueued,
    copies,
    deletes,
    extras: report.extras,
    refusal: report.refusal,
    differences: report.differences,
  });
  out.line(
    table(
      ['COMPARED', 'EQUAL', 'MISSING', 'DIFFERENT', 'EXTRA', 'ENQUEUED'],
      [[compared, equal, missing, different, extra, report.enqueued].map(String)],
    ),
  );
  if (report.sourceEmpty) {
    out.warn(
      `warning: the source listing of bucket "${report.bucket}" is empty while the backup ` +
        `"${report.backupBucket}" holds ${extra} objects: check SOURCE_S3_ENDPOINT, the ` +
        'credentials and the bucket name',
    );
  }
  if (dryRun) {
    out.line(
      `dry run: would copy ${copies} objects and delete ${deletes} backup objects` +
        (report.extras === 'refuse' ? ' (deleting the extras would be refused, see below)' : ''),
    );
  }
  if (report.extras === 'delete') {
    out.line(
      `${dryRun ? 'would delete' : 'enqueued deletes of'} ${deletes} extra backup objects ` +
        '(each deleted only if the source answers NoSuchKey, within DELETE_LIMIT)',
    );
  } else if (report.extras === 'report' && extra > 0) {
    out.line(
      `${extra} extra backup objects (in the backup, not in the source) left alone: ` +
        (deletesOn
          ? '--delete enqueues their deletes'
          : 'deletes are off (REPLICATE_DELETES=false or DELETE_LIMIT=0)'),
    );
  }
  if (dryRun && report.differences.length > 0) {
    out.line();
    out.line(
      table(
        ['STATUS', 'KEY'],
        report.differences.map((d) => [d.status, d.key]),
      ),
    );
  }
  if (report.refusal !== undefined) {
    throw new CliError(
      ExitCode.problemsFound,
      copies > 0 && !dryRun
        ? `${report.refusal} (the ${copies} copies were enqueued)`
        : report.refusal,
    );
  }
}
