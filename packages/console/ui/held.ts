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
      ? el('p', {}, `${count(held.messages)} deletes are held, waiting for a decision.`)
      : el(
          'p',
          { class: 'lead' },
          'This version of s3relay executes deletes as they come and holds none. Held deletes arrive with the delete breaker, which holds deletes beyond a limit for an operator to release or drop.',
        ),
  );
}
