import { setTimeout as sleep } from 'node:timers/promises';
import type { PrivateRabbit } from '../helpers/private-rabbit.js';
import type { QuorumQueueStatus, RabbitCluster } from '../helpers/rabbit-cluster.js';
import { seconds, type ScenarioContext } from './scenario.js';

/**
 * What a cluster fault cost, as the cluster scenarios report it: webhooks refused, how long until
 * webhooks were accepted again, and the tasks redelivered because of it (each redelivery counts
 * towards AMQP_DELIVERY_LIMIT, although the task did nothing wrong).
 */

/** How long polling the cluster for a state may take before the scenario fails. */
const CLUSTER_WAIT_MS = 120_000;

/**
 * Records `refused during <label>` (webhooks the ingress did not answer 2xx that were sent from
 * `from` until `until`) and `<label> s`: from `from` until the first webhook sent after it was
 * accepted (its answer), or fails the scenario when none was before `until`.
 */
export function noteFailover(
  context: ScenarioContext,
  label: string,
  from: number,
  until: number,
): number | undefined {
  const posts = context.stack.recorder.posts.filter(
    (post) => post.startedAt >= from && post.startedAt < until,
  );
  const refused = posts.filter((post) => post.status < 200 || post.status > 299).length;
  const accepted = posts
    .filter((post) => post.status >= 200 && post.status <= 299)
    .map((post) => post.startedAt + post.durationMs - from);
  const recoveredMs = accepted.length === 0 ? undefined : Math.min(...accepted);
  context.count(`refused during ${label}`, refused);
  context.note(
    `${label} s`,
    recoveredMs === undefined ? 'none' : Number((recoveredMs / 1000).toFixed(1)),
  );
  context.expect(
    recoveredMs !== undefined,
    `no webhook was accepted during ${label} (${seconds(until - from)}): the cluster did not take over`,
  );
  return recoveredMs;
}

/**
 * Records `longest gap s`: the longest time from `from` until `until` in which no webhook got a
 * 2xx answer (answers of webhooks sent in the window; the ends of the window count as answers).
 */
export function noteLongestGap(context: ScenarioContext, from: number, until: number): number {
  const answered = context.stack.recorder.posts
    .filter(
      (post) =>
        post.startedAt >= from &&
        post.startedAt < until &&
        post.status >= 200 &&
        post.status <= 299,
    )
    .map((post) => Math.min(until, post.startedAt + post.durationMs))
    .sort((a, b) => a - b);
  let longest = 0;
  let previous = from;
  for (const at of [...answered, until]) {
    longest = Math.max(longest, at - previous);
    previous = Math.max(previous, at);
  }
  context.note('longest gap s', Number((longest / 1000).toFixed(1)));
  return longest;
}

/**
 * Records `tasks redelivered` (tasks the workers got again, from their `task redelivered` log
 * lines) and `max delivery count` (the highest `x-delivery-count` among them; AMQP_DELIVERY_LIMIT
 * parks a task when it reaches the limit).
 */
export async function noteRedeliveries(context: ScenarioContext): Promise<void> {
  const lines = await context.linesInLog('worker', /"message":"task redelivered"/);
  const tasks = new Set<string>();
  let maxCount = 0;
  for (const line of lines) {
    const entry = JSON.parse(line) as { taskId?: string; deliveryCount?: number };
    if (entry.taskId !== undefined) tasks.add(entry.taskId);
    maxCount = Math.max(maxCount, entry.deliveryCount ?? 0);
  }
  context.note('tasks redelivered', tasks.size);
  context.note('max delivery count', maxCount);
}

/** Polls the cluster until `done(status)` holds for `queue`; resolves with that status. */
export async function waitQueue(
  cluster: RabbitCluster,
  queue: string,
  what: string,
  done: (status: QuorumQueueStatus) => boolean,
): Promise<QuorumQueueStatus> {
  const deadline = Date.now() + CLUSTER_WAIT_MS;
  let last = 'not listed yet';
  for (;;) {
    try {
      const status = await cluster.quorumStatus(queue);
      if (done(status)) return status;
      last = `leader ${status.leader?.nodeName ?? 'none'}, ${status.online.length}/${status.members.length} online`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      throw new Error(`${queue}: ${what} not seen within ${seconds(CLUSTER_WAIT_MS)} (${last})`);
    }
    await sleep(500);
  }
}

/** Resolves once every member of `queue` is online and it has a leader. */
export function waitReplicated(cluster: RabbitCluster, queue: string): Promise<QuorumQueueStatus> {
  return waitQueue(
    cluster,
    queue,
    'every member online',
    (status) =>
      status.leader !== undefined &&
      status.members.length === cluster.nodes.length &&
      status.online.length === status.members.length,
  );
}

/** The node leading `queue` now. */
export async function leaderOf(cluster: RabbitCluster, queue: string): Promise<PrivateRabbit> {
  const status = await waitQueue(cluster, queue, 'a leader', (s) => s.leader !== undefined);
  return status.leader as PrivateRabbit;
}

/**
 * Waits until every replica of the tasks queue is online, lets the load run 3 s more so that the
 * fault hits a busy pipeline, and resolves with the node leading the tasks queue then.
 */
export async function leaderUnderLoad(
  context: ScenarioContext,
  cluster: RabbitCluster,
): Promise<PrivateRabbit> {
  await waitReplicated(cluster, context.stack.names.tasks);
  await sleep(3000);
  return leaderOf(cluster, context.stack.names.tasks);
}

/** The position of `node` in the cluster, from 1, for the summary. */
export function nodeNumber(cluster: RabbitCluster, node: PrivateRabbit): number {
  return cluster.nodes.indexOf(node) + 1;
}
