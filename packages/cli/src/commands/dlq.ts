import type { Command } from 'commander';
import { withBroker } from '../broker-session.js';
import { addBrokerOptions, brokerOverrides, type BrokerFlags } from '../common-options.js';
import { configFromFlags } from '../config-from-flags.js';
import type { Output } from '../output.js';
import { queueCommand } from '../queue-command.js';
import { confirmed } from '../queue-actions.js';
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

/** `s3relay dlq list|replay|drop|purge`: the dead-letter queue, for operators. */
export function dlqCommand(output: () => Output, env: NodeJS.ProcessEnv): Command {
  const dlq = queueCommand<ParkedTask, ParkedFilter, FilterFlags>(
    {
      name: 'dlq',
      description: 'inspect, replay and purge parked (dead-lettered) tasks',
      entries: 'parked tasks',
      selection: 'tasks',
      headers: HEADERS,
      rows,
      filters: {
        add: (command) =>
          command
            .option('--bucket <bucket>', 'only tasks of this source bucket')
            .option('--error-code <code>', 'only tasks parked with this error code'),
        sinceHelp: 'only tasks that last failed at or after this time',
        untilHelp: 'only tasks that last failed at or before this time',
        of: (flags) => ({
          ids: flags.id,
          bucket: flags.bucket,
          errorCode: flags.errorCode,
          since: flags.since,
          until: flags.until,
        }),
      },
      list: {
        description:
          'show parked tasks with their reason, attempts and failure times (keeps every task, in order)',
        limitHelp: 'show at most n tasks',
        scanning: 'scanning the DLQ',
        operation: listDlq,
        summary: (total, queue) => `${total} parked in ${queue}`,
      },
      actions: [
        {
          verb: 'replay',
          done: 'replayed',
          doing: 'replaying',
          description: 'move parked tasks back to the tasks queue with the attempt count reset',
          allHelp: 'replay every parked task (or those matching the filters)',
          operation: replayDlq,
          resultKey: 'replayed',
        },
        {
          verb: 'drop',
          done: 'dropped',
          doing: 'dropping',
          description:
            'delete the selected parked tasks for good (asks first); the others stay, in order',
          allHelp: 'drop every parked task matching the filters',
          confirmText: (queue) =>
            `Delete the selected parked tasks from ${queue}? Their events will not be replicated.`,
          operation: dropDlq,
          resultKey: 'dropped',
        },
      ],
    },
    output,
    env,
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
