import type { Scenario, ScenarioContext } from '../scenario.js';

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
  load: (size) => stormLoad(size.loadMs),
  async inject(context) {
    await new Promise((resolve) => context.loadDone.addEventListener('abort', resolve));
    await measureStorm(context);
  },
};

/** The storm's changes: 20 a second on 50 keys, 30 % deletes, 2 large keys, 2 poisoned. */
export function stormLoad(durationMs: number) {
  return {
    durationMs,
    opsPerSecond: 20,
    keySpace: KEYS,
    deleteShare: 0.3,
    bigObjects: 2,
    bigOverwrites: 2,
    poison: 2,
  };
}

/**
 * Once every webhook is delivered: how many events the ingress accepted twice, and how many it
 * accepted after a later event of their key. Both must have happened, or the storm did not.
 */
export async function measureStorm(context: ScenarioContext): Promise<void> {
  await context.stack.source.idle(60_000);
  // What the ingress accepted, in the order it answered.
  const accepted = context.stack.recorder.posts
    .filter((post) => post.status >= 200 && post.status < 300)
    .sort((a, b) => a.startedAt + a.durationMs - (b.startedAt + b.durationMs))
    .flatMap((post) => post.records);
  const seen = new Set<string>();
  const latest = new Map<string, number>();
  let duplicates = 0;
  let overtaken = 0;
  for (const record of accepted) {
    const id = `${record.key}\u0000${record.sequencer}`;
    if (seen.has(id)) duplicates += 1;
    seen.add(id);
    if (record.order < (latest.get(record.key) ?? -Infinity)) overtaken += 1;
    latest.set(record.key, Math.max(record.order, latest.get(record.key) ?? -Infinity));
  }
  context.note('duplicate deliveries accepted', duplicates);
  context.note('events accepted after a later one of their key', overtaken);
  context.expect(duplicates > 0, 'no event was accepted twice: the duplicates did not happen');
  context.expect(overtaken > 0, 'no event overtook another of its key: no reordering happened');
}
