import type { HeldSummary } from '../src/api-types.js';
import { byId, el, replaceChildren } from './dom.js';
import { count } from './format.js';

/** The held-deletes view. */
export function renderHeld(held: HeldSummary): void {
  byId('tab-held-count').textContent =
    held.available && (held.messages ?? 0) > 0 ? count(held.messages) : '';
  replaceChildren(
    byId('held-body'),
    held.available
      ? el(
          'p',
          {},
          `${count(held.messages)} backup deletes are held (DELETE_LIMIT reached), waiting for a decision: look at them with s3relay held list, then s3relay held release (each checks the source again, within the limit) or s3relay held drop (the backup objects stay).`,
        )
      : el(
          'p',
          { class: 'lead' },
          'The broker has no held-deletes queue yet: s3relay processes of this version declare it when they connect. The delete breaker holds backup deletes beyond DELETE_LIMIT there for an operator to release or drop.',
        ),
  );
}
