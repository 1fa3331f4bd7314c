import { setTimeout as sleep } from 'node:timers/promises';
import { brokerFaultLoad, privateNode, type Scenario } from '../scenario.js';

/** The broker node is killed with SIGKILL mid-load (no clean shutdown) and started again. */
export const brokerKilled: Scenario = {
  name: 'broker-killed',
  fault:
    'the broker node killed with SIGKILL mid-load and started again 5 s later on the same data',
  broker: 'private',
  workers: 3,
  load: (size) => brokerFaultLoad(size),
  async inject(context) {
    const node = privateNode(context);
    const rounds = Math.max(1, Math.round(context.size.scale));
    for (let round = 0; round < rounds; round += 1) {
      // Into the load, with copies running.
      await sleep(Math.max(0, ((round + 0.3) / rounds) * context.size.loadMs - context.elapsed()));
      const killedAt = Date.now();
      await node.kill();
      context.count('kills');
      await sleep(5000);
      await node.start();
      const backAt = Date.now();
      context.log(`broker back after ${((backAt - killedAt) / 1000).toFixed(1)} s`);
      const refused = context.stack.recorder.posts.filter(
        (post) =>
          post.startedAt >= killedAt &&
          post.startedAt < backAt &&
          (post.status < 200 || post.status > 299),
      ).length;
      context.count('webhooks refused while down', refused);
      // Proof that the ingress noticed: it cannot have confirmed anything meanwhile.
      context.expect(refused > 0, 'no webhook was refused while the broker was down');
    }
  },
};
