import type { Command } from 'commander';
import type { HeldDelete, HeldFilter } from '../held/held-delete.js';
import { dropHeld, listHeld, releaseHeld } from '../held/held-operations.js';
import type { Output } from '../output.js';
import { queueCommand } from '../queue-command.js';

const HEADERS = ['ID', 'BUCKET', 'KEY', 'HELD AT', 'CODE', 'REASON'];

function rows(entries: readonly HeldDelete[]): string[][] {
  return entries.map((entry) => [
    entry.messageId ?? '-',
    entry.task?.bucket ?? '-',
    entry.task?.key ?? `(invalid: ${entry.invalidReason ?? '?'})`,
    entry.heldAt ?? '-',
    entry.code,
    entry.reason,
  ]);
}

interface FilterFlags {
  bucket?: string;
  prefix?: string;
  since?: Date;
  until?: Date;
}

/** `s3relay held list|release|drop`: the backup deletes the delete breaker held. */
export function heldCommand(output: () => Output, env: NodeJS.ProcessEnv): Command {
  return queueCommand<HeldDelete, HeldFilter, FilterFlags>(
    {
      name: 'held',
      description:
        'inspect, release and drop backup deletes held by the delete breaker (DELETE_LIMIT)',
      entries: 'held deletes',
      selection: 'held deletes',
      headers: HEADERS,
      rows,
      filters: {
        add: (command) =>
          command
            .option('--bucket <bucket>', 'only deletes of this source bucket')
            .option('--prefix <prefix>', 'only deletes of keys that start with this'),
        sinceHelp: 'only deletes held at or after this time',
        untilHelp: 'only deletes held at or before this time',
        of: (flags) => ({
          ids: flags.id,
          bucket: flags.bucket,
          prefix: flags.prefix,
          since: flags.since,
          until: flags.until,
        }),
      },
      list: {
        description: 'show held deletes with why and when they were held (keeps them, in order)',
        limitHelp: 'show at most n deletes',
        scanning: 'scanning the held deletes',
        operation: listHeld,
        summary: (total, queue) => `${total} deletes held in ${queue}`,
      },
      actions: [
        {
          verb: 'release',
          done: 'released',
          doing: 'releasing',
          description:
            'put held deletes back in the tasks queue: each is reconciled again (the source is asked again, within DELETE_LIMIT)',
          allHelp: 'release every held delete (or those matching the filters)',
          confirmText: (queue) =>
            `Release the selected held deletes of ${queue}? Each deletes its backup object if the source still has no such key (within DELETE_LIMIT).`,
          operation: releaseHeld,
          resultKey: 'selected',
        },
        {
          verb: 'drop',
          done: 'dropped',
          doing: 'dropping',
          description:
            'forget held deletes for good, keeping their backup objects (asks first); the others stay, in order',
          allHelp: 'drop every held delete (or those matching the filters)',
          confirmText: (queue) =>
            `Drop the selected held deletes of ${queue}? Their backup objects stay (resync --delete would find them again as extras).`,
          operation: dropHeld,
          resultKey: 'selected',
        },
      ],
    },
    output,
    env,
  );
}
