import type { ChannelModel, GetMessage } from 'amqplib';
import type { OutgoingMessage, Publisher, TopologyNames } from '@s3relay/core/amqp';
import { walkQueue } from './dlq/queue-walk.js';

/**
 * A queue nobody consumes that operators list and act on (the DLQ, the held deletes): which
 * queue it is, and how its messages are shown and filtered.
 */
export interface OperatorQueue<Entry, Filter> {
  readonly queue: (names: TopologyNames) => string;
  /** What an operator is shown of a message. */
  readonly describe: (message: GetMessage) => Entry;
  readonly matches: (entry: Entry, filter: Filter) => boolean;
}

/** What `list` shows of a queue: how many it holds, and the first entries that match. */
export interface QueueListing<Entry> {
  readonly total: number;
  readonly scanned: number;
  readonly entries: readonly Entry[];
}

/** What `replay`, `release` or `drop` did (in a dry run: would do) to the entries they chose. */
export interface QueueSelection<Entry> {
  readonly scanned: number;
  readonly selected: readonly Entry[];
  readonly dryRun: boolean;
}

export type ListQueue<Entry, Filter> = (
  connection: ChannelModel,
  names: TopologyNames,
  publisher: Publisher,
  filter: Filter & { readonly limit: number },
  onProgress?: (scanned: number) => void,
) => Promise<QueueListing<Entry>>;

export type ActOnQueue<Entry, Filter> = (
  connection: ChannelModel,
  names: TopologyNames,
  publisher: Publisher,
  options: Filter & { readonly dryRun: boolean },
  onProgress?: (scanned: number, selected: number) => void,
) => Promise<QueueSelection<Entry>>;

/** Where a selected message goes instead of back to its queue. */
export type SelectedRoute<Entry> = (
  entry: Entry,
  message: GetMessage,
  names: TopologyNames,
) => OutgoingMessage | 'drop';

/**
 * Lists the entries matching a filter, up to `limit`, leaving the queue as it was (same messages,
 * same order; see walkQueue). It walks the whole queue whatever the limit: stopping early would
 * move the messages seen so far behind the others.
 */
export function queueLister<Entry, Filter>(
  operatorQueue: OperatorQueue<Entry, Filter>,
): ListQueue<Entry, Filter> {
  return async (connection, names, publisher, filter, onProgress) => {
    const entries: Entry[] = [];
    let scanned = 0;
    const total = await walkQueue(connection, operatorQueue.queue(names), publisher, (message) => {
      scanned += 1;
      const entry = operatorQueue.describe(message);
      if (entries.length < filter.limit && operatorQueue.matches(entry, filter)) {
        entries.push(entry);
      }
      onProgress?.(scanned);
      return 'keep';
    });
    return { total, scanned, entries };
  };
}

/**
 * Sends the entries matching a filter where `route` says, in queue order; the others stay, in
 * their order. A dry run changes nothing.
 */
export function queueAction<Entry, Filter>(
  operatorQueue: OperatorQueue<Entry, Filter>,
  route: SelectedRoute<Entry>,
): ActOnQueue<Entry, Filter> {
  return async (connection, names, publisher, options, onProgress) => {
    const selected: Entry[] = [];
    let scanned = 0;
    await walkQueue(connection, operatorQueue.queue(names), publisher, (message) => {
      scanned += 1;
      const entry = operatorQueue.describe(message);
      const matches = operatorQueue.matches(entry, options);
      if (matches) selected.push(entry);
      onProgress?.(scanned, selected.length);
      if (!matches || options.dryRun) return 'keep';
      return route(entry, message, names);
    });
    return { scanned, selected, dryRun: options.dryRun };
  };
}
