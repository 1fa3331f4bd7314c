import { Command, Option } from 'commander';
import { withBroker } from '../broker-session.js';
import { addBrokerOptions, brokerOverrides, type BrokerFlags } from '../common-options.js';
import { configFromFlags } from '../config-from-flags.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { pointInTime, positiveInt } from '../flag-parsers.js';
import type { HeldDelete, HeldFilter } from '../held/held-delete.js';
import { dropHeld, listHeld, releaseHeld } from '../held/held-operations.js';
import { table, type Output } from '../output.js';
import { createProgress } from '../progress.js';
import { confirmed, withPublisher } from '../queue-actions.js';

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

interface SelectFlags extends FilterFlags {
  all?: boolean;
  id?: string[];
  dryRun?: boolean;
  yes?: boolean;
}

/** What selects held deletes in `list`, `release` and `drop`. */
function addFilterOptions(command: Command): Command {
  return command
    .option('--bucket <bucket>', 'only deletes of this source bucket')
    .option('--prefix <prefix>', 'only deletes of keys that start with this')
    .addOption(
      new Option('--since <time>', 'only deletes held at or after this time').argParser(
        pointInTime,
      ),
    )
    .addOption(
      new Option('--until <time>', 'only deletes held at or before this time').argParser(
        pointInTime,
      ),
    )
    .addHelpText(
      'after',
      '\nTimes are ISO 8601 (2026-11-29T10:00:00Z) or ages (90m: 90 minutes ago).',
    );
}

function addSelectOptions(command: Command, verb: string): Command {
  return addFilterOptions(
    command
      .option('--all', `${verb} every held delete (or those matching the filters)`)
      .option('--id <id...>', `${verb} the held deletes with these ids`)
      .option(
        '--dry-run',
        `show what would be ${verb === 'drop' ? 'dropped' : 'released'}, change nothing`,
      )
      .option('-y, --yes', 'do not ask'),
  );
}

function filterOf(flags: FilterFlags & { id?: string[] }): HeldFilter {
  return {
    ids: flags.id,
    bucket: flags.bucket,
    prefix: flags.prefix,
    since: flags.since,
    until: flags.until,
  };
}

function requireSelection(flags: SelectFlags, verb: string): void {
  if (flags.all !== true && (flags.id === undefined || flags.id.length === 0)) {
    throw new CliError(ExitCode.usage, `say which held deletes to ${verb}: --all or --id <id...>`);
  }
}

/** `s3relay held list|release|drop`: the backup deletes the delete breaker held. */
export function heldCommand(output: () => Output, env: NodeJS.ProcessEnv): Command {
  const held = new Command('held').description(
    'inspect, release and drop backup deletes held by the delete breaker (DELETE_LIMIT)',
  );

  addBrokerOptions(
    addFilterOptions(
      held
        .command('list')
        .description('show held deletes with why and when they were held (keeps them, in order)')
        .addOption(
          new Option('--limit <n>', 'show at most n deletes').argParser(positiveInt).default(100),
        ),
    ),
  ).action(async (flags: BrokerFlags & FilterFlags & { limit: number }) => {
    const out = output();
    const config = configFromFlags(env, brokerOverrides(flags));
    const progress = createProgress(out, 'scanning the held deletes');
    const result = await withBroker(config, ({ broker, connection }) =>
      withPublisher(config, broker, (publisher) =>
        listHeld(
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
      `${result.total} deletes held in ${config.amqp.prefix}.held; showing ${result.entries.length}`,
    );
    if (result.entries.length > 0) out.line(table(HEADERS, rows(result.entries)));
  });

  addBrokerOptions(
    addSelectOptions(
      held
        .command('release')
        .description(
          'put held deletes back in the tasks queue: each is reconciled again (the source is asked again, within DELETE_LIMIT)',
        ),
      'release',
    ),
  ).action(async (flags: BrokerFlags & SelectFlags) => {
    const out = output();
    requireSelection(flags, 'release');
    const config = configFromFlags(env, brokerOverrides(flags));
    const dryRun = flags.dryRun === true;
    if (
      !dryRun &&
      !(await confirmed(
        out,
        `Release the selected held deletes of ${config.amqp.prefix}.held? Each deletes its backup object if the source still has no such key (within DELETE_LIMIT).`,
        flags.yes,
      ))
    ) {
      return;
    }
    const progress = createProgress(out, dryRun ? 'dry run' : 'releasing');
    const result = await withBroker(config, ({ broker, connection }) =>
      withPublisher(config, broker, (publisher) =>
        releaseHeld(
          connection,
          broker.names,
          publisher,
          { ...filterOf(flags), dryRun },
          (scanned, released) => progress.update({ scanned, released }),
        ),
      ),
    );
    progress.done({ scanned: result.scanned, released: result.selected.length });
    out.result(result);
    out.line(
      `${result.dryRun ? 'would release' : 'released'} ${result.selected.length} of ${result.scanned} held deletes`,
    );
    if (result.selected.length > 0) out.line(table(HEADERS, rows(result.selected)));
  });

  addBrokerOptions(
    addSelectOptions(
      held
        .command('drop')
        .description(
          'forget held deletes for good, keeping their backup objects (asks first); the others stay, in order',
        ),
      'drop',
    ),
  ).action(async (flags: BrokerFlags & SelectFlags) => {
    const out = output();
    requireSelection(flags, 'drop');
    const config = configFromFlags(env, brokerOverrides(flags));
    const dryRun = flags.dryRun === true;
    if (
      !dryRun &&
      !(await confirmed(
        out,
        `Drop the selected held deletes of ${config.amqp.prefix}.held? Their backup objects stay (resync --delete would find them again as extras).`,
        flags.yes,
      ))
    ) {
      return;
    }
    const progress = createProgress(out, dryRun ? 'dry run' : 'dropping');
    const result = await withBroker(config, ({ broker, connection }) =>
      withPublisher(config, broker, (publisher) =>
        dropHeld(
          connection,
          broker.names,
          publisher,
          { ...filterOf(flags), dryRun },
          (scanned, dropped) => progress.update({ scanned, dropped }),
        ),
      ),
    );
    progress.done({ scanned: result.scanned, dropped: result.selected.length });
    out.result(result);
    out.line(
      `${result.dryRun ? 'would drop' : 'dropped'} ${result.selected.length} of ${result.scanned} held deletes`,
    );
    if (result.selected.length > 0) out.line(table(HEADERS, rows(result.selected)));
  });

  return held;
}
