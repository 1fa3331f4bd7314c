import { Command, Option } from 'commander';
import { withBroker } from './broker-session.js';
import { addBrokerOptions, brokerOverrides, type BrokerFlags } from './common-options.js';
import { configFromFlags } from './config-from-flags.js';
import { CliError, ExitCode } from './exit-codes.js';
import { pointInTime, positiveInt } from './flag-parsers.js';
import { table, type Output } from './output.js';
import { createProgress } from './progress.js';
import type { ActOnQueue, ListQueue } from './operator-queue.js';
import { confirmed, withPublisher } from './queue-actions.js';

interface SelectFlags {
  all?: boolean;
  id?: string[];
  dryRun?: boolean;
  yes?: boolean;
}

/** A subcommand that walks the queue and moves or drops what the flags select. */
export interface QueueActionCommand<Entry, Filter> {
  /** Its name, and what it does to an entry: `replay`, `release`, `drop`. */
  readonly verb: string;
  /** What it did to one: `replayed`. */
  readonly done: string;
  /** The progress line's label while it works: `replaying`. */
  readonly doing: string;
  readonly description: string;
  /** Help of `--all`. */
  readonly allHelp: string;
  /**
   * The question asked before anything changes (`-y, --yes` skips it), given the queue's name;
   * without one the subcommand neither asks nor takes `--yes`.
   */
  readonly confirmText?: (queue: string) => string;
  readonly operation: ActOnQueue<Entry, Filter>;
  /** The name under which `--json` reports the selected entries. */
  readonly resultKey: string;
}

export interface QueueCommandOptions<Entry, Filter, FilterFlags> {
  /** The command, and the queue's name after `AMQP_PREFIX`: `dlq` is `<prefix>.dlq`. */
  readonly name: string;
  readonly description: string;
  /** What the summary lines count: `parked tasks`. */
  readonly entries: string;
  /** What `--id` and the usage error name: `tasks`. */
  readonly selection: string;
  readonly headers: readonly string[];
  readonly rows: (entries: readonly Entry[]) => string[][];
  readonly filters: {
    /** Adds the filters other than the time bounds. */
    readonly add: (command: Command) => Command;
    /** Help of `--since` and `--until`. */
    readonly sinceHelp: string;
    readonly untilHelp: string;
    readonly of: (flags: FilterFlags & { id?: string[] }) => Filter;
  };
  readonly list: {
    readonly description: string;
    readonly limitHelp: string;
    /** The progress line's label. */
    readonly scanning: string;
    readonly operation: ListQueue<Entry, Filter>;
    /** The summary line before `; showing n`, given the total and the queue's name. */
    readonly summary: (total: number, queue: string) => string;
  };
  readonly actions: readonly QueueActionCommand<Entry, Filter>[];
}

/**
 * `s3relay <name> list|<verb>...`: an operator queue nobody consumes (the DLQ, the held
 * deletes), listed and acted on with the same filters, `--json`, `--dry-run` and confirmation.
 */
export function queueCommand<Entry, Filter, FilterFlags>(
  spec: QueueCommandOptions<Entry, Filter, FilterFlags>,
  output: () => Output,
  env: NodeJS.ProcessEnv,
): Command {
  const command = new Command(spec.name).description(spec.description);

  const addFilterOptions = (subcommand: Command): Command =>
    spec.filters
      .add(subcommand)
      .addOption(new Option('--since <time>', spec.filters.sinceHelp).argParser(pointInTime))
      .addOption(new Option('--until <time>', spec.filters.untilHelp).argParser(pointInTime))
      .addHelpText(
        'after',
        '\nTimes are ISO 8601 (2026-11-29T10:00:00Z) or ages (90m: 90 minutes ago).',
      );

  addBrokerOptions(
    addFilterOptions(
      command
        .command('list')
        .description(spec.list.description)
        .addOption(
          new Option('--limit <n>', spec.list.limitHelp).argParser(positiveInt).default(100),
        ),
    ),
  ).action(async (flags: BrokerFlags & FilterFlags & { limit: number }) => {
    const out = output();
    const config = configFromFlags(env, brokerOverrides(flags));
    const progress = createProgress(out, spec.list.scanning);
    const result = await withBroker(config, ({ broker, connection }) =>
      withPublisher(config, broker, (publisher) =>
        spec.list.operation(
          connection,
          broker.names,
          publisher,
          { ...spec.filters.of(flags), limit: flags.limit },
          (scanned) => progress.update({ scanned }),
        ),
      ),
    );
    progress.done({ scanned: result.scanned });
    out.result(result);
    const queue = `${config.amqp.prefix}.${spec.name}`;
    out.line(`${spec.list.summary(result.total, queue)}; showing ${result.entries.length}`);
    if (result.entries.length > 0) out.line(table(spec.headers, spec.rows(result.entries)));
  });

  for (const action of spec.actions) {
    const subcommand = command
      .command(action.verb)
      .description(action.description)
      .option('--all', action.allHelp)
      .option('--id <id...>', `${action.verb} the ${spec.selection} with these ids`)
      .option('--dry-run', `show what would be ${action.done}, change nothing`);
    if (action.confirmText !== undefined) subcommand.option('-y, --yes', 'do not ask');
    addBrokerOptions(addFilterOptions(subcommand)).action(
      async (flags: BrokerFlags & FilterFlags & SelectFlags) => {
        const out = output();
        if (flags.all !== true && (flags.id === undefined || flags.id.length === 0)) {
          throw new CliError(
            ExitCode.usage,
            `say which ${spec.selection} to ${action.verb}: --all or --id <id...>`,
          );
        }
        const config = configFromFlags(env, brokerOverrides(flags));
        const queue = `${config.amqp.prefix}.${spec.name}`;
        const dryRun = flags.dryRun === true;
        if (
          action.confirmText !== undefined &&
          !dryRun &&
          !(await confirmed(out, action.confirmText(queue), flags.yes))
        ) {
          return;
        }
        const progress = createProgress(out, dryRun ? 'dry run' : action.doing);
        // A dry run's counter must not read as if something had changed (issue 18 item 9).
        const counter = dryRun ? `would ${action.verb}` : action.done;
        const result = await withBroker(config, ({ broker, connection }) =>
          withPublisher(config, broker, (publisher) =>
            action.operation(
              connection,
              broker.names,
              publisher,
              { ...spec.filters.of(flags), dryRun },
              (scanned, selected) => progress.update({ scanned, [counter]: selected }),
            ),
          ),
        );
        progress.done({ scanned: result.scanned, [counter]: result.selected.length });
        out.result({
          scanned: result.scanned,
          [action.resultKey]: result.selected,
          dryRun: result.dryRun,
        });
        out.line(
          `${result.dryRun ? `would ${action.verb}` : action.done} ${result.selected.length} of ${result.scanned} ${spec.entries}`,
        );
        if (result.selected.length > 0) {
          out.line(table(spec.headers, spec.rows(result.selected)));
        }
      },
    );
  }

  return command;
}
