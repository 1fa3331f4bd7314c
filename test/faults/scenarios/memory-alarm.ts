import { setTimeout as sleep } from 'node:timers/promises';
import { privateNode, type Scenario } from '../scenario.js';

/** How long the alarm lasts (the figure). */
const ALARM_MS = 30_000;
/** "Quickly": a refusal must not wait for the publish timeout more than once. */
const FAST_503_P50_MS = 500;

/** A memory alarm blocks publishers for 30 s; the ingress must refuse fast and recover. */
export const memoryAlarm: Scenario = {
  name: 'memory-alarm',
  fault: 'a broker memory alarm for 30 s: publishers blocked',
  broker: 'private',
  workers: 3,
  load: (size) => ({
    // The load outlasts the alarm, so that recovery is seen with fresh webhooks too.
    durationMs: Math.max(size.loadMs, ALARM_MS + 8000),
    opsPerSecond: 8,
    bigObjects: Math.round(2 * size.scale),
    poison: 2,
  }),
  async inject(context) {
    const node = privateNode(context);
    await sleep(3000);
    await node.setMemoryAlarm(true);
    // The alarm is confirmed on when setMemoryAlarm resolves; it may clear before the
    // confirmation of `false` returns, so the window ends when that call starts.
    const onAt = Date.now();
    let offAt = Date.now();
    try {
      await sleep(ALARM_MS);
    } finally {
      offAt = Date.now();
      await node.setMemoryAlarm(false);
    }
    // Wait a little for fresh answers after the alarm.
    await sleep(6000);
    const posts = context.stack.recorder.posts;
    const during = posts.filter((post) => post.startedAt >= onAt + 1000 && post.startedAt < offAt);
    const refused = during.filter((post) => post.status === 503);
    const acceptedDuring = during.filter((post) => post.status >= 200 && post.status < 300);
    const after = posts.filter((post) => post.startedAt > offAt + 1000);
    const acceptedAfter = after.filter((post) => post.status >= 200 && post.status < 300);
    const durations = refused.map((post) => post.durationMs).sort((a, b) => a - b);
    const p50 = durations[Math.floor(durations.length / 2)] ?? 0;
    const max = durations[durations.length - 1] ?? 0;
    context.note('503 during alarm', refused.length);
    context.note('2xx during alarm', acceptedDuring.length);
    context.note('503 p50 ms', p50);
    context.note('503 max ms', max);
    context.note('2xx after alarm', acceptedAfter.length);
    context.expect(
      refused.length >= 5,
      `only ${refused.length} webhooks were refused during the alarm`,
    );
    context.expect(
      acceptedDuring.length === 0,
      `${acceptedDuring.length} webhooks were accepted while publishing was blocked`,
    );
    context.expect(p50 <= FAST_503_P50_MS, `503s during the alarm took ${p50} ms (median)`);
    context.expect(
      max <= Number(context.stack.env.PUBLISH_TIMEOUT_MS) + 1000,
      `a 503 during the alarm took ${max} ms, beyond the publish timeout`,
    );
    context.expect(acceptedAfter.length > 0, 'no webhook was accepted after the alarm cleared');
  },
};
