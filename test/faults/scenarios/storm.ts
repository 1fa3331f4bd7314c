import type { Scenario } from '../scenario.js';

const KEYS = 50;

/**
 * Creates, overwrites and deletes on the same 50 keys, their webhooks duplicated and reordered,
 * four workers racing: the backup must converge to the source's last state of each key.
 */
export const storm: Scenario = {
  name: 'storm',
  fault: `a storm of creates, overwrites and deletes on the same ${KEYS} keys (and 2 large ones overwritten twice), 30 % of webhooks duplicated, all held up to 2 s at random so they overtake one another; 4 workers`,
  broker: 'shared',
  workers: 4,
  delivery: { duplicateRate: 0.3, reorderWindowMs: 2000 },
  load: (size) => ({
    durationMs: size.loadMs,
    opsPerSecond: 20,
    keySpace: KEYS,
    deleteShare: 0.3,
    bigObjects: 2,
    bigOverwrites: 2,
    poison: 2,
  }),
  async inject(context) {
    await new Promise((resolve) => context.loadDone.addEventListener('abort', resolve));
    const posts = context.stack.recorder.posts;
    const records = posts.flatMap((post) => post.records);
    const distinct = new Set(records.map((record) => JSON.stringify(record)));
    context.note('webhook records delivered', records.length);
    context.expect(
      records.length > distinct.size,
      'no webhook record was delivered twice: the duplicates did not happen',
    );
  },
};
