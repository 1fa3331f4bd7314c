import { setTimeout as sleep } from 'node:timers/promises';
import { brokerFaultLoad, clusterOf, type Scenario } from '../scenario.js';
import {
  leaderUnderLoad,
  leaderOf,
  noteLongestGap,
  noteRedeliveries,
  waitReplicated,
} from '../failover.js';

/**
 * Every node restarted in turn under load, the way deploy/README.md says to upgrade RabbitMQ:
 * wait until no quorum queue would lose its majority (`rabbitmq-upgrade
 * await_online_quorum_plus_one`), drain the node (`rabbitmq-upgrade drain`: its queue leaders
 * move away, its clients are disconnected), stop it, start it, `revive` it, and wait until every
 * queue has all its members online again before the next node. The leader of the tasks queue
 * goes last, so its leadership moves at least once.
 */
export const clusterRollingRestart: Scenario = {
  name: 'cluster-rolling-restart',
  fault:
    'a rolling restart of all three nodes under load (await_online_quorum_plus_one, drain, stop, start, revive, wait for the replicas), the leader last',
  broker: 'cluster',
  workers: 3,
  env: { AMQP_HEARTBEAT_SECONDS: '2' },
  // Until the roll is over and a few seconds more; at most this long.
  load: (size) => brokerFaultLoad(size, 240_000),
  loadUntilFaultDone: true,
  async inject(context) {
    const cluster = clusterOf(context);
    const tasks = context.stack.names.tasks;
    const leader = await leaderUnderLoad(context, cluster);
    const order = [...cluster.nodes.filter((node) => node !== leader), leader];
    const rollStart = Date.now();
    for (const node of order) {
      const started = Date.now();
      await cluster.run('rabbitmq-upgrade', node, [
        'await_online_quorum_plus_one',
        '--timeout',
        '120',
      ]);
      await cluster.run('rabbitmq-upgrade', node, ['drain']);
      await node.stop();
      await node.start();
      await cluster.run('rabbitmq-upgrade', node, ['revive']);
      await waitReplicated(cluster, tasks);
      context.count('restarts');
      context.log(
        `node ${cluster.nodes.indexOf(node) + 1} restarted in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    }
    const rollEnd = Date.now();
    context.note('roll s', Number(((rollEnd - rollStart) / 1000).toFixed(1)));
    const refused = context.stack.recorder.posts.filter(
      (post) =>
        post.startedAt >= rollStart &&
        post.startedAt < rollEnd &&
        (post.status < 200 || post.status > 299),
    ).length;
    context.note('refused during roll', refused);
    const gap = noteLongestGap(context, rollStart, rollEnd);
    // Whatever the roll costs, the pipeline is never down for longer than a reconnect.
    context.expect(
      gap < 30_000,
      `no webhook was accepted for ${(gap / 1000).toFixed(1)} s during the roll`,
    );
    const leaderNow = await leaderOf(cluster, tasks);
    context.note('tasks leader moved', leaderNow === leader ? 'no' : 'yes');
    await sleep(5000);
  },
  report: noteRedeliveries,
};
