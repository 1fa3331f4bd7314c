import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Scenario } from '../scenario.js';
import { measureStorm, stormLoad } from './storm.js';

/**
 * The storm between two accounts of a real Ceph cluster: Ceph's own notifications (each event
 * once, inside the S3 request), of which the recorder sends 30 % a second time up to 2 s later,
 * so that they arrive after later events of their key; and workers killed at random meanwhile.
 */
export const stormCeph: Scenario = {
  name: 'storm-ceph',
  fault:
    'the storm against Ceph RGW (source and backup: two accounts): its real notifications, 30 % sent again up to 2 s later, workers killed with SIGKILL every 2-5 s',
  broker: 'shared',
  source: 'ceph',
  workers: 4,
  chaos: { duplicateRate: 0.3, duplicateDelayMaxMs: 2000 },
  // As in workers-killed: a task held by a killed worker counts as a delivery.
  env: { AMQP_DELIVERY_LIMIT: '50' },
  load: (size) => stormLoad(size.loadMs),
  async inject(context) {
    const { stack } = context;
    const restarts: Promise<unknown>[] = [];
    let kills = 0;
    while (!context.loadDone.aborted) {
      await sleep(randomInt(2000, 5000));
      if (context.loadDone.aborted) break;
      const index = randomInt(stack.workers.length);
      await stack.workers[index]?.kill('SIGKILL');
      kills += 1;
      // Not awaited for readiness: the next kill may hit a worker still starting.
      restarts.push(stack.startWorker(index, false));
    }
    await Promise.all(restarts);
    context.note('worker kills', kills);
    context.expect(kills > 0, 'no worker was killed');
    await measureStorm(context);
  },
};
