import { setTimeout as sleep } from 'node:timers/promises';
import { blackHole, brokerFaultLoad, type Scenario } from '../scenario.js';

const HEARTBEAT_SECONDS = 2;
/** Longer than the heartbeat timeout (about twice the heartbeat) on both sides. */
const BLACK_HOLE_MS = 12_000;

/** The network path to the broker silently drops everything for longer than the heartbeat. */
export const brokerBlackHoled: Scenario = {
  name: 'broker-black-holed',
  fault: `the network to the broker black-holed for ${BLACK_HOLE_MS / 1000} s (heartbeat ${HEARTBEAT_SECONDS} s): open connections go silent, new ones hang`,
  broker: 'private',
  brokerProxy: true,
  workers: 3,
  env: { AMQP_HEARTBEAT_SECONDS: String(HEARTBEAT_SECONDS), PUBLISH_TIMEOUT_MS: '2000' },
  load: (size) => brokerFaultLoad(size, Math.max(size.loadMs, BLACK_HOLE_MS + 10_000)),
  async inject(context) {
    const proxy = context.stack.brokerProxy;
    if (proxy === undefined) throw new Error('this scenario needs the broker proxy');
    const rounds = Math.max(1, Math.round(context.size.scale));
    for (let round = 0; round < rounds; round += 1) {
      await sleep(
        Math.max(3000, ((round + 0.25) / rounds) * context.size.loadMs - context.elapsed()),
      );
      const from = Date.now();
      await blackHole(context, proxy, BLACK_HOLE_MS);
      const refused = context.stack.recorder.posts.filter(
        (post) =>
          post.startedAt >= from && post.startedAt < from + BLACK_HOLE_MS && post.status !== 200,
      );
      context.count('webhooks refused while black-holed', refused.length);
      context.expect(refused.length > 0, 'no webhook was refused while the broker was unreachable');
    }
    await sleep(3000);
    const disconnects = await context.countInLog('ingress', /"message":"broker disconnected"/);
    const workerDisconnects = await context.countInLog('worker', /"message":"broker disconnected"/);
    context.note('ingress disconnects', disconnects);
    context.note('worker disconnects', workerDisconnects);
    context.expect(disconnects >= rounds, 'the ingress never noticed the dead connection');
    context.expect(
      workerDisconnects >= rounds * 3,
      'some worker never noticed the dead connection',
    );
  },
};
