import { confirm } from '../confirm.js';
import { Command, Option } from 'commander';
import { positiveInt } from '../flag-parsers.js';
import type { Config } from '@s3relay/core';
import { Publisher, type Broker } from '@s3relay/core/amqp';
import { withBroker } from '../broker-session.js';
import { addBrokerOptions, brokerOverrides, type BrokerFlags } from '../common-options.js';
import { configFromFlags } from '../config-from-flags.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { table, type Output } from '../output.js';
import { createProgress } from '../progress.js';
import { listDlq, purgeDlq, replayDlq } from '../dlq/dlq-operations.js';
import type { ParkedTask } from '../dlq/parked-task.js';

function rows(entries: readonly ParkedTask[]): string[][] {
  return entries.map((entry) => [
    entry.messageId ?? '-',
    entry.task?.bucket ?? '-',
    entry.task?.key ?? `(invalid: ${entry.invalidReason ?? '?'})`,
    entry.errorCode,
    entry.attempts === undefined ? '-' : String(entry.attempts),
    entry.firstFailedAt ?? '-',
    entry.lastFailedAt ?? '-',
    entry.error,
  ]);
}

const HEADERS = [
  'ID',
  'BUCKET',
  'KEY',
  'ERROR CODE',
  'ATTEMPTS',
  'FIRST FAILED',
  'LAST FAILED',
  'ERROR',
];

/**
 * Runs `work` with a confirming publisher: listing republishes what it keeps, replaying what it
 * moves (see walkDlq).
 */
async function withPublisher<T>(
  config: Config,
  broker: Broker,
  work: (publisher: Publisher) => Promise<T>,
): Promise<T> {
  const publisher = new Publisher(broker, {
    timeoutMs: config.amqp.publishTimeoutMs,
    maxInFlight: 1000,
  });
  try {
    return await work(publisher);
  } finally {
    await publisher.close();
  }
}

/** `s3relay dlq list|replay|purge`: the dead-letter queue, for operators. */
export function dlqCommand(output: () => Output, env: NodeJS.ProcessEnv): Command {
  const dlq = new Command('dlq').description(
    'inspect, replay and purge parked (dead-lettered) tasks',
  );

  addBrokerOptions(
    dlq
      .command('list')
      .description(
        'show parked tasks with their reason, attempts and failure times (keeps every task, in order)',
      )
      .addOption(
        new Option('--limit <n>', 'show at most n tasks').argParser(positiveInt).default(100),
      )
      .option('--bucket <bucket>', 'only tasks of this source bucket')
      .option('--error-code <code>', 'only tasks parked with this error code'),
  ).action(async (flags: BrokerFlags & { limit: number; bucket?: string; errorCode?: string }) => {
    const out = output();
    const config = configFromFlags(env, brokerOverrides(flags));
    const progress = createProgress(out, 'scanning the DLQ');
    const result = await withBroker(config, ({ broker, connection }) =>
      withPublisher(config, broker, (publisher) =>
        listDlq(connection, broker.names, publisher, flags, (scanned) =>
          progress.update({ scanned }),
        ),
      ),
    );
    progress.done({ scanned: result.scanned });
    out.result(result);
    out.line(
      `${result.total} parked in ${config.amqp.prefix}.dlq; showing ${result.entries.length}`,
    );
    if (result.entries.length > 0) out.line(table(HEADERS, rows(result.entries)));
  });

  addBrokerOptions(
    dlq
      .command('replay')
      .description('move parked tasks back to the tasks queue with the attempt count reset')
      .option('--all', 'replay every parked task (or those matching --bucket / --error-code)')
      .option('--id <id...>', 'replay the tasks with these ids')
      .option('--bucket <bucket>', 'only tasks of this source bucket')
      .option('--error-code <code>', 'only tasks parked with this error code')
      .option('--dry-run', 'show what would be replayed, change nothing'),
  ).action(
    async (
      flags: BrokerFlags & {
        all?: boolean;
        id?: string[];
        bucket?: string;
        errorCode?: string;
        dryRun?: boolean;
      },
    ) => {
      const out = output();
      if (flags.all !== true && (flags.id === undefined || flags.id.length === 0)) {
        throw new CliError(ExitCode.usage, 'say which tasks to replay: --all or --id <id...>');
      }
      const config = configFromFlags(env, brokerOverrides(flags));
      const progress = createProgress(out, flags.dryRun === true ? 'dry run' : 'replaying');
      const result = await withBroker(config, ({ broker, connection }) =>
        withPublisher(config, broker, (publisher) =>
          replayDlq(
            connection,
            broker.names,
            publisher,
            {
              ids: flags.id,
              bucket: flags.bucket,
              errorCode: flags.errorCode,
              dryRun: flags.dryRun === true,
            },
            (scanned, replayed) => progress.update({ scanned, replayed }),
          ),
        ),
      );
      progress.done({ scanned: result.scanned, replayed: result.replayed.length });
      out.result(result);
      const verb = result.dryRun ? 'would replay' : 'replayed';
      out.line(`${verb} ${result.replayed.length} of ${result.scanned} parked tasks`);
      if (result.replayed.length > 0) out.line(table(HEADERS, rows(result.replayed)));
    },
  );

  addBrokerOptions(
    dlq
      .command('purge')
      .description('delete every parked task (asks first)')
      .option('-y, --yes', 'do not ask'),
  ).action(async (flags: BrokerFlags & { yes?: boolean }) => {
    const out = output();
    const config = configFromFlags(env, brokerOverrides(flags));
    if (flags.yes !== true) {
      const yes = await confirm(
        `Delete every parked task in ${config.amqp.prefix}.dlq? This cannot be undone.`,
        'refusing to purge',
      );
      if (!yes) {
        out.warn('nothing purged');
        return;
      }
    }
    const purged = await withBroker(config, ({ broker, connection }) =>
      purgeDlq(connection, broker.names),
    );
    out.result({ purged });
    out.line(`purged ${purged} parked tasks`);
  });

  return dlq;
}
