import { setTimeout as sleep } from 'node:timers/promises';
import { blackHole, brokerFaultLoad, clusterOf, type Scenario } from '../scenario.js';
import { noteFailover, noteRedeliveries, waitReplicated } from '../failover.js';

const HEARTBEAT_SECONDS = 2;
/** Longer than a heartbeat timeout and a connect timeout to the silent node together. */
const BLACK_HOLE_MS = 15_000;

interface ConnectedLine {
  readonly url: string;
  readonly timestamp: string;
}

/**
 * The network path from the services to the node worker-1 is connected to goes silent (a TCP
 * proxy per node drops everything both ways; the node itself stays in the cluster). Worker-1 must
 * notice through the heartbeat and move to another node while the path is still dead.
 */
export const clusterNodeBlackHoled: Scenario = {
  name: 'cluster-node-black-holed',
  fault: `the network to the node worker-1 is connected to black-holed for ${BLACK_HOLE_MS / 1000} s (heartbeat ${HEARTBEAT_SECONDS} s); the node stays in the cluster`,
  broker: 'cluster',
  brokerProxy: true,
  workers: 3,
  env: { AMQP_HEARTBEAT_SECONDS: String(HEARTBEAT_SECONDS) },
  // Until the path is open again and a few seconds more; at most this long.
  load: (size) => brokerFaultLoad(size, 180_000),
  loadUntilFaultDone: true,
  async inject(context) {
    const cluster = clusterOf(context);
    await waitReplicated(cluster, context.stack.names.tasks);
    await sleep(4000);
    const connected = async () =>
      (await context.linesInLog('worker-1', /"message":"broker connected"/)).map(
        (line) => JSON.parse(line) as ConnectedLine,
      );
    const before = (await connected()).at(-1);
    if (before === undefined) throw new Error('worker-1 never logged its broker connection');
    const port = Number(new URL(before.url).port);
    const proxy = context.stack.brokerProxies.find((candidate) => candidate.port === port);
    if (proxy === undefined)
      throw new Error(`worker-1 is connected to ${before.url}, not a node proxy`);
    context.note('black-holed node', context.stack.brokerProxies.indexOf(proxy) + 1);

    const from = Date.now();
    await blackHole(context, proxy, BLACK_HOLE_MS);
    const until = Date.now();
    noteFailover(context, 'black hole', from, until);
    const moved = (await connected()).find(
      (line) => Date.parse(line.timestamp) >= from && Number(new URL(line.url).port) !== port,
    );
    context.expect(
      moved !== undefined && Date.parse(moved.timestamp) < until,
      'worker-1 did not move to another node while its node was black-holed',
    );
    if (moved !== undefined) {
      context.note(
        'worker-1 moved after s',
        Number(((Date.parse(moved.timestamp) - from) / 1000).toFixed(1)),
      );
    }
    await sleep(4000);
  },
  report: noteRedeliveries,
};
