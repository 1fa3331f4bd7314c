import { setTimeout as sleep } from 'node:timers/promises';
import { brokerFaultLoad, clusterOf, type Scenario } from '../scenario.js';
import {
  leaderUnderLoad,
  noteFailover,
  noteRedeliveries,
  nodeNumber,
  waitQueue,
  waitReplicated,
} from '../failover.js';

/** How long the killed node stays down: the cluster must carry on without it meanwhile. */
const DOWN_MS = 10_000;

/** The node leading the tasks queue dies (SIGKILL) under load, and comes back later. */
export const clusterLeaderKilled: Scenario = {
  name: 'cluster-leader-killed',
  fault: `the node leading the tasks queue killed with SIGKILL mid-load, restarted ${DOWN_MS / 1000} s later`,
  broker: 'cluster',
  workers: 3,
  env: { AMQP_HEARTBEAT_SECONDS: '2' },
  // Until the node is back and replicated, and a few seconds more; at most this long. Finding
  // the leader asks rabbitmqctl, which takes seconds on a loaded machine: no fixed schedule.
  load: (size) => brokerFaultLoad(size, 180_000 * size.scale),
  loadUntilFaultDone: true,
  async inject(context) {
    const cluster = clusterOf(context);
    const tasks = context.stack.names.tasks;
    const rounds = Math.max(1, Math.round(context.size.scale));
    let slowest = 0;
    for (let round = 0; round < rounds; round += 1) {
      const leader = await leaderUnderLoad(context, cluster);
      const killedAt = Date.now();
      await leader.kill();
      context.count('kills');
      context.note('killed node', nodeNumber(cluster, leader));
      const elected = await waitQueue(
        cluster,
        tasks,
        'a new leader',
        (status) => status.leader !== undefined && status.leader !== leader,
      );
      const electedAfter = (Date.now() - killedAt) / 1000;
      context.note('new leader seen after s', Number(electedAfter.toFixed(1)));
      const next = elected.leader === undefined ? 0 : nodeNumber(cluster, elected.leader);
      context.log(`node ${nodeNumber(cluster, leader)} killed; node ${next} leads`);
      await sleep(Math.max(0, killedAt + DOWN_MS - Date.now()));
      // Accepted again while the node was still down: the cluster took over.
      slowest = Math.max(slowest, noteFailover(context, 'failover', killedAt, Date.now()) ?? 0);
      await leader.start();
      await waitReplicated(cluster, tasks);
      context.log(
        `node back and replicated ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`,
      );
    }
    context.note('failover s', Number((slowest / 1000).toFixed(1)));
    // Fresh webhooks with the whole cluster back.
    await sleep(4000);
  },
  report: noteRedeliveries,
};
