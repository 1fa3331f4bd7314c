import { TaskHeaders } from '@s3relay/core';
import { messageIdOf } from '../dlq/queue-walk.js';
import { queueAction, queueLister, type OperatorQueue } from '../operator-queue.js';
import { describeHeld, matchesHeld, type HeldDelete, type HeldFilter } from './held-delete.js';

const HELD: OperatorQueue<HeldDelete, HeldFilter> = {
  queue: (names) => names.held,
  describe: describeHeld,
  matches: matchesHeld,
};

/** The held deletes matching a filter, up to a limit, leaving `<prefix>.held` as it was. */
export const listHeld = queueLister(HELD);

/**
 * Moves the matching held deletes back to the tasks queue, where each is reconciled again from
 * the start: the source is asked again (an object that came back is copied, not deleted) and
 * the delete breaker too (beyond DELETE_LIMIT it is held again). The others stay, in order. A
 * held delete leaves `<prefix>.held` only once its task is confirmed in the tasks queue.
 */
export const releaseHeld = queueAction(HELD, (_held, message, names) => ({
  queue: names.tasks,
  body: message.content,
  messageId: messageIdOf(message) ?? 'unknown',
  headers: { [TaskHeaders.releasedAt]: new Date().toISOString() },
}));

/**
 * Forgets the matching held deletes: their backup objects stay. The others stay, in order. A dry
 * run changes nothing.
 */
export const dropHeld = queueAction(HELD, () => 'drop');
