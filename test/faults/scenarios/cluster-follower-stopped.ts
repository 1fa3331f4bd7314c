import { setTimeout as sleep } from 'node:timers/promises';
import { brokerFaultLoad, clusterOf, type Scenario } from '../scenario.js';
import {
  leaderUnderLoad,
  noteLongestGap,
  noteRedeliveries,
  nodeNumber,
  waitReplicated,
} from '../failover.js';

/**
 * How long the follower is down in CI: half the minute, to keep CI's cost bounded (the
 * cluster scenarios run on every CI run); long enough for a backlog of hundreds of tasks the
 * follower must catch up on. A soak stops it for a minute per minute of load (`--minutes 2`: two).
 */
const STOPPED_MS = 30_000;
const stoppedMs = (scale: number) => (scale === 1 ? STOPPED_MS : 20_000 * scale);

/** A node that follows the tasks queue is stopped under load, then started again. */
export const clusterFollowerStopped: Scenario = {
  name: 'cluster-follower-stopped',
  fault: `a node following the tasks queue stopped (rabbitmqctl stop) for ${STOPPED_MS / 1000} s under load (a minute per minute of a soak), then started; it catches up`,
  broker: 'cluster',
  workers: 3,
  env: { AMQP_HEARTBEAT_SECONDS: '2' },
  // Until the follower has caught up and a few seconds more; at most this long.
  load: (size) => brokerFaultLoad(size, stoppedMs(size.scale) + 120_000),
  loadUntilFaultDone: true,
  async inject(context) {
    const cluster = clusterOf(context);
    const tasks = context.stack.names.tasks;
    const leader = await leaderUnderLoad(context, cluster);
    const follower = cluster.nodes.find((node) => node !== leader);
    if (follower === undefined) throw new Error('no follower');
    context.note('stopped node', nodeNumber(cluster, follower));
    const stoppedAt = Date.now();
    await follower.stop();
    context.count('stops');
    await sleep(Math.max(0, stoppedAt + stoppedMs(context.size.scale) - Date.now()));
    const startAt = Date.now();
    noteLongestGap(context, stoppedAt, startAt);
    const accepted = context.stack.recorder.posts.filter(
      (post) =>
        post.startedAt >= stoppedAt &&
        post.startedAt < startAt &&
        post.status >= 200 &&
        post.status <= 299,
    ).length;
    context.note('2xx while stopped', accepted);
    context.expect(accepted > 0, 'no webhook was accepted while one follower was stopped');
    await follower.start();
    await waitReplicated(cluster, tasks);
    context.note('caught up after start s', Number(((Date.now() - startAt) / 1000).toFixed(1)));
    // Fresh webhooks after the follower is back.
    await sleep(5000);
  },
  report: noteRedeliveries,
};
