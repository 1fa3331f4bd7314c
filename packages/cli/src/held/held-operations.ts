import type { ChannelModel } from 'amqplib';
import { TaskHeaders } from '@s3relay/core';
import type { Publisher, TopologyNames } from '@s3relay/core/amqp';
import { messageIdOf, walkQueue } from '../dlq/queue-walk.js';
import { describeHeld, matchesHeld, type HeldDelete, type HeldFilter } from './held-delete.js';

export interface HeldListResult {
  readonly total: number;
  readonly scanned: number;
  readonly entries: readonly HeldDelete[];
}

/**
 * The held deletes matching `filter`, up to `limit`, leaving `<prefix>.held` as it was (same
 * messages, same order; see walkQueue).
 */
export async function listHeld(
  connection: ChannelModel,
  names: TopologyNames,
  publisher: Publisher,
  filter: HeldFilter & { readonly limit: number },
  onProgress?: (scanned: number) => void,
): Promise<HeldListResult> {
  const entries: HeldDelete[] = [];
  let scanned = 0;
  const total = await walkQueue(connection, names.held, publisher, (message) => {
    scanned += 1;
    const held = describeHeld(message);
    if (entries.length < filter.limit && matchesHeld(held, filter)) entries.push(held);
    onProgress?.(scanned);
    return 'keep';
  });
  return { total, scanned, entries };
}

export interface HeldActionResult {
  readonly scanned: number;
  /** The deletes released (or dropped). */
  readonly selected: readonly HeldDelete[];
  readonly dryRun: boolean;
}

/**
 * Moves the matching held deletes back to the tasks queue, where each is reconciled again from
 * the start: the source is asked again (an object that came back is copied, not deleted) and
 * the delete breaker too (beyond DELETE_LIMIT it is held again). The others stay, in order. A
 * held delete leaves `<prefix>.held` only once its task is confirmed in the tasks queue.
 */
export async function releaseHeld(
  connection: ChannelModel,
  names: TopologyNames,
  publisher: Publisher,
  options: HeldFilter & { readonly dryRun: boolean },
  onProgress?: (scanned: number, released: number) => void,
): Promise<HeldActionResult> {
  const selected: HeldDelete[] = [];
  let scanned = 0;
  await walkQueue(connection, names.held, publisher, (message) => {
    scanned += 1;
    const held = describeHeld(message);
    const matches = matchesHeld(held, options);
    if (matches) selected.push(held);
    onProgress?.(scanned, selected.length);
    if (!matches || options.dryRun) return 'keep';
    return {
      queue: names.tasks,
      body: message.content,
      messageId: messageIdOf(message) ?? 'unknown',
      headers: { [TaskHeaders.releasedAt]: new Date().toISOString() },
    };
  });
  return { scanned, selected, dryRun: options.dryRun };
}

/**
 * Forgets the matching held deletes: their backup objects stay. The others stay, in order. A dry
 * run changes nothing.
 */
export async function dropHeld(
  connection: ChannelModel,
  names: TopologyNames,
  publisher: Publisher,
  options: HeldFilter & { readonly dryRun: boolean },
  onProgress?: (scanned: number, dropped: number) => void,
): Promise<HeldActionResult> {
  const selected: HeldDelete[] = [];
  let scanned = 0;
  await walkQueue(connection, names.held, publisher, (message) => {
    scanned += 1;
    const held = describeHeld(message);
    const matches = matchesHeld(held, options);
    if (matches) selected.push(held);
    onProgress?.(scanned, selected.length);
    return matches && !options.dryRun ? 'drop' : 'keep';
  });
  return { scanned, selected, dryRun: options.dryRun };
}
