import { setTimeout as sleep } from 'node:timers/promises';
import type { Scenario } from '../scenario.js';

/** The sender gives a record up when its next try would come later than this. */
const SENDER_MAX_AGE_MS = 4000;
/** Longer than the sender retries. */
const DOWN_MS = 10_000;

/**
 * The ingress is down for longer than the sender retries, so the sender drops events; `s3relay
 * resync` afterwards must leave nothing lost or missed.
 */
export const ingressDown: Scenario = {
  name: 'ingress-down',
  fault: `the ingress killed (SIGKILL) for ${DOWN_MS / 1000} s while the sender gives records up after ${SENDER_MAX_AGE_MS / 1000} s; then \`s3relay resync --delete\``,
  broker: 'shared',
  workers: 3,
  delivery: { maxAgeMs: SENDER_MAX_AGE_MS },
  load: (size) => ({
    durationMs: Math.max(size.loadMs, DOWN_MS + 10_000),
    opsPerSecond: 10,
    bigObjects: Math.round(2 * size.scale),
    poison: 2,
  }),
  async inject(context) {
    await sleep(Math.max(3000, 0.3 * context.size.loadMs));
    await context.stack.ingress.kill('SIGKILL');
    context.count('ingress kills');
    await sleep(DOWN_MS);
    await context.stack.startIngress();
  },
  async heal(context) {
    const dropped = context.stack.source.stats().dropped;
    context.note('events the sender gave up', dropped);
    context.expect(dropped > 0, 'the sender gave no event up: the outage was too short');
    const { exit, output, stdout } = await context.stack.group.run(
      'resync',
      // --delete: the deletes the sender gave up are extras in the backup.
      ['--json', 'resync', '--bucket', 'source', '--delete'],
      {},
      120_000,
    );
    context.expect(
      exit.code === 0,
      `resync exited ${String(exit.code ?? exit.signal)}:\n${output}`,
    );
    const count = enqueued(stdout);
    context.note('resync enqueued', count ?? 'unknown');
    context.expect(count !== undefined, `resync --json printed no enqueued count:\n${output}`);
  },
};

/** The `enqueued` count of `resync --json`'s document (its `differences` can fill many lines). */
function enqueued(stdout: string): number | undefined {
  try {
    const { enqueued: count } = JSON.parse(stdout) as { enqueued?: unknown };
    return typeof count === 'number' ? count : undefined;
  } catch {
    return undefined;
  }
}
