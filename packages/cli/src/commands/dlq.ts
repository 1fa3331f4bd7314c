import { Command, Option } from 'commander';
import { pointInTime, positiveInt } from '../flag-parsers.js';
import { withBroker } from '../broker-session.js';
import { addBrokerOptions, brokerOverrides, type BrokerFlags } from '../common-options.js';
import { configFromFlags } from '../config-from-flags.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { table, type Output } from '../output.js';
import { createProgress } from '../progress.js';
import { confirmed, withPublisher } from '../queue-actions.js';
import { dropDlq, listDlq, purgeDlq, replayDlq } from '../dlq/dlq-operations.js';
import type { ParkedFilter, ParkedTask } from '../dlq/parked-task.js';

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

interface FilterFlags {
  bucket?: string;
  errorCode?: string;
  since?: Date;
  until?: Date;
}

/** What selects parked tasks in `list`, `replay` and `drop`. */
function addFilterOptions(command: Command): Command {
  return command
    .option('--bucket <bucket>', 'only tasks of this source bucket')
    .option('--error-code <code>', 'only tasks parked with this error code')
    .addOption(
      new Option('--since <time>', 'only tasks that last failed at or after this time').argParser(
        pointInTime,
      ),
    )
    .addOption(
      new Option('--until <time>', 'only tasks that last failed at or before this time').argParser(
        pointInTime,
      ),
    )
    .addHelpText(
      'after',
      '\nTimes are ISO 8601 (2026-11-29T10:00:00Z) or ages (90m: 90 minutes ago).',
    );
}

function filterOf(flags: FilterFlags & { id?: string[] }): ParkedFilter {
  return {
    ids: flags.id,
    bucket: flags.bucket,
    errorCode: flags.errorCode,
    since: flags.since,
    until: flags.until,
  };
}

/** `s3relay dlq list|replay|purge`: the dead-letter queue, for operators. */
export function dlqCommand(output: () => Output, env: NodeJS.ProcessEnv): Command {
  const dlq = new Command('dlq').description(
    'inspect, replay and purge parked (dead-lettered) tasks',
  );

  addBrokerOptions(
    addFilterOptions(
      dlq
        .command('list')
        .description(
          'show parked tasks with their reason, attempts and failure times (keeps every task, in order)',
        )
        .addOption(
          new Option('--limit <n>', 'show at most n tasks').argParser(positiveInt).default(100),
        ),
    ),
  ).action(async (flags: BrokerFlags & FilterFlags & { limit: number }) => {
    const out = output();
    const config = configFromFlags(env, brokerOverrides(flags));
    const progress = createProgress(out, 'scanning the DLQ');
    const result = await withBroker(config, ({ broker, connection }) =>
      withPublisher(config, broker, (publisher) =>
        listDlq(
          connection,
          broker.names,
          publisher,
          { ...filterOf(flags), limit: flags.limit },
          (scanned) => progress.update({ scanned }),
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
    addFilterOptions(
      dlq
        .command('replay')
        .description('move parked tasks back to the tasks queue with the attempt count reset')
        .option('--all', 'replay every parked task (or those matching the filters)')
        .option('--id <id...>', 'replay the tasks with these ids')
        .option('--dry-run', 'show what would be replayed, change nothing'),
    ),
  ).action(
    async (
      flags: BrokerFlags & FilterFlags & { all?: boolean; id?: string[]; dryRun?: boolean },
    ) => {
      const out = output();
      if (flags.all !== true && (flags.id === undefined || flags.id.length === 0)) {
        throw new CliError(ExitCode.usage, 'say which tasks to replay: --all or --id <id...>');
      }
      const config = configFromFlags(env, brokerOverrides(flags));
      const progress = createProgress(out, flags.dryRun === true ? 'dry run' : 'replaying');
      // A dry run's counter must not read as if something had been replayed.
      const replayedLabel = flags.dryRun === true ? 'would replay' : 'replayed';
      const result = await withBroker(config, ({ broker, connection }) =>
        withPublisher(config, broker, (publisher) =>
          replayDlq(
            connection,
            broker.names,
            publisher,
            { ...filterOf(flags), dryRun: flags.dryRun === true },
            (scanned, replayed) => progress.update({ scanned, [replayedLabel]: replayed }),
          ),
        ),
      );
      progress.done({ scanned: result.scanned, [replayedLabel]: result.replayed.length });
      out.result(result);
      const verb = result.dryRun ? 'would replay' : 'replayed';
      out.line(`${verb} ${result.replayed.length} of ${result.scanned} parked tasks`);
      if (result.replayed.length > 0) out.line(table(HEADERS, rows(result.replayed)));
    },
  );

  addBrokerOptions(
    addFilterOptions(
      dlq
        .command('drop')
        .description(
          'delete the selected parked tasks for good (asks first); the others stay, in order',
        )
        .option('--all', 'drop every parked task matching the filters')
        .option('--id <id...>', 'drop the tasks with these ids')
        .option('--dry-run', 'show what would be dropped, change nothing')
        .option('-y, --yes', 'do not ask'),
    ),
  ).action(
    async (
      flags: BrokerFlags &
        FilterFlags & { all?: boolean; id?: string[]; dryRun?: boolean; yes?: boolean },
    ) => {
      const out = output();
      if (flags.all !== true && (flags.id === undefined || flags.id.length === 0)) {
        throw new CliError(ExitCode.usage, 'say which tasks to drop: --all or --id <id...>');
      }
      const config = configFromFlags(env, brokerOverrides(flags));
      const dryRun = flags.dryRun === true;
      if (
        !dryRun &&
        !(await confirmed(
          out,
          `Delete the selected parked tasks from ${config.amqp.prefix}.dlq? Their events will not be replicated.`,
          flags.yes,
        ))
      ) {
        return;
      }
      const progress = createProgress(out, dryRun ? 'dry run' : 'dropping');
      const droppedLabel = dryRun ? 'would drop' : 'dropped';
      const result = await withBroker(config, ({ broker, connection }) =>
        withPublisher(config, broker, (publisher) =>
          dropDlq(
            connection,
            broker.names,
            publisher,
            { ...filterOf(flags), dryRun },
            (scanned, dropped) => progress.update({ scanned, [droppedLabel]: dropped }),
          ),
        ),
      );
      progress.done({ scanned: result.scanned, [droppedLabel]: result.dropped.length });
      out.result(result);
      out.line(
        `${result.dryRun ? 'would drop' : 'dropped'} ${result.dropped.length} of ${result.scanned} parked tasks`,
      );
      if (result.dropped.length > 0) out.line(table(HEADERS, rows(result.dropped)));
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
    if (
      !(await confirmed(out, `Delete every parked task in ${config.amqp.prefix}.dlq?`, flags.yes))
    ) {
      return;
    }
    const purged = await withBroker(config, ({ broker, connection }) =>
      purgeDlq(connection, broker.names),
    );
    out.result({ purged });
    out.line(`purged ${purged} parked tasks`);
  });

  return dlq;
}
