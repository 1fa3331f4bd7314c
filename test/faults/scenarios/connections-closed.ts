import { setTimeout as sleep } from 'node:timers/promises';
import { brokerFaultLoad, privateNode, type Scenario } from '../scenario.js';

const PERIOD_MS = 3000;

/** Every few seconds, every connection to the broker is force-closed, as an operator or a node restart would. */
export const connectionsClosed: Scenario = {
  name: 'connections-closed',
  fault:
    'every broker connection force-closed (rabbitmqctl close_all_connections) every 3 s while webhooks and copies flow',
  broker: 'private',
  workers: 3,
  load: (size) => brokerFaultLoad(size),
  async inject(context) {
    const node = privateNode(context);
    // On a schedule, whatever each close takes: rabbitmqctl needs several seconds on a loaded
    // two-core machine, so up to two run at once.
    const running = new Set<Promise<void>>();
    const close = async () => {
      const output = await node.rabbitmqctl(['close_all_connections', 'fault suite']);
      context.count('rounds');
      context.count(
        'connections closed',
        Number(/Closed (\d+) connections/.exec(output)?.[1] ?? 0),
      );
    };
    for (let next = Date.now() + PERIOD_MS; !context.loadDone.aborted; next += PERIOD_MS) {
      await sleep(Math.max(0, next - Date.now()));
      if (context.loadDone.aborted) break;
      if (running.size >= 2) await Promise.race(running);
      const round = close().finally(() => running.delete(round));
      running.add(round);
    }
    await Promise.all(running);
    const reconnects = await context.countInLog('ingress', /"message":"broker connected"/);
    const workerReconnects = await context.countInLog('worker', /"message":"broker connected"/);
    context.note('ingress connects', reconnects);
    context.note('worker connects', workerReconnects);
    context.expect(
      reconnects >= 3,
      `the ingress connected only ${reconnects} times: were its connections closed?`,
    );
    context.expect(
      workerReconnects >= 3 * 3,
      `the workers connected only ${workerReconnects} times`,
    );
  },
};
