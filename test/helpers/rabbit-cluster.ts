import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { amqpAnswers } from './rabbit.js';
import { startPrivateRabbit, type PrivateRabbit } from './private-rabbit.js';
import { runRabbitmqTool, type RabbitmqctlTarget, type RabbitmqTool } from './rabbitmqctl.js';

export interface RabbitClusterOptions {
  /** @default 3 */
  readonly size?: number;
  /** How long each node may take to start. @default 120000 */
  readonly startTimeoutMs?: number;
}

/** Where a quorum queue's replicas are, as the cluster reports them. */
export interface QuorumQueueStatus {
  /** The node leading the queue, or undefined while it has none. */
  readonly leader: PrivateRabbit | undefined;
  readonly members: readonly PrivateRabbit[];
  readonly online: readonly PrivateRabbit[];
}

/** A RabbitMQ cluster of private nodes on loopback that tests may kill, stop and black-hole. */
export interface RabbitCluster {
  readonly nodes: readonly PrivateRabbit[];
  /** Every node's AMQP URL, in node order; `urls.join(',')` is an `AMQP_URL`. */
  readonly urls: readonly string[];
  /** A node that is up now (the first in node order); thrown when none is. */
  anyUp(): PrivateRabbit;
  /** How rabbitmqctl reaches a node that is up now. */
  ctlTarget(): RabbitmqctlTarget;
  /** `rabbitmqctl ...args` on a node that is up. */
  rabbitmqctl(args: readonly string[]): Promise<string>;
  /** `tool -n <node> ...args` (e.g. `rabbitmq-upgrade drain` on the node it is about). */
  run(tool: RabbitmqTool, node: PrivateRabbit, args: readonly string[]): Promise<string>;
  /** Leader, members and online members of a quorum queue of the default vhost. */
  quorumStatus(queue: string): Promise<QuorumQueueStatus>;
  /** Resolves once every node is up and a member of the running cluster. */
  waitAllRunning(timeoutMs?: number): Promise<void>;
  /** Kills every node and deletes their directories; idempotent. */
  dispose(): Promise<void>;
}

/**
 * Starts `size` private nodes (private-rabbit.ts: own node names, AMQP and distribution ports on
 * 127.0.0.1, data directories, no plugins, so no management or Prometheus listener) sharing one
 * random Erlang cookie, and joins the others to the first with `rabbitmqctl join_cluster`.
 * Resolves once all are running members; about 20–40 s on two cores.
 */
export async function startRabbitCluster(
  options: RabbitClusterOptions = {},
): Promise<RabbitCluster> {
  const size = options.size ?? 3;
  const cookie = randomBytes(20).toString('hex').toUpperCase();
  const started = await Promise.allSettled(
    Array.from({ length: size }, () =>
      startPrivateRabbit({ cookie, startTimeoutMs: options.startTimeoutMs ?? 120_000 }),
    ),
  );
  const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  let disposed: Promise<void> | undefined;
  const dispose = () => {
    disposed ??= Promise.all(nodes.map((node) => node.dispose())).then(() => undefined);
    return disposed;
  };
  const failed = started.find((result) => result.status === 'rejected');
  if (failed !== undefined) {
    await dispose();
    throw failed.reason;
  }

  const anyUp = () => {
    const up = nodes.find((node) => node.up);
    if (up === undefined) throw new Error('no node of the cluster is up');
    return up;
  };
  const ctlTarget = (): RabbitmqctlTarget => {
    const node = anyUp();
    return { node: node.nodeName, home: node.home };
  };
  const byName = (name: unknown) => nodes.find((node) => node.nodeName === name);

  const cluster: RabbitCluster = {
    nodes,
    urls: nodes.map((node) => node.url),
    anyUp,
    ctlTarget,
    rabbitmqctl: (args) => runRabbitmqTool('rabbitmqctl', args, ctlTarget()),
    run: (tool, node, args) =>
      runRabbitmqTool(tool, args, { node: node.nodeName, home: node.home }, 120_000),
    async quorumStatus(queue) {
      const out = await cluster.rabbitmqctl([
        'list_queues',
        'name',
        'leader',
        'members',
        'online',
        '--formatter',
        'json',
        '-q',
      ]);
      const rows = JSON.parse(out.trim() === '' ? '[]' : out) as {
        name: string;
        leader?: unknown;
        members?: unknown;
        online?: unknown;
      }[];
      const row = rows.find((candidate) => candidate.name === queue);
      if (row === undefined) throw new Error(`queue ${queue} is not listed`);
      const list = (value: unknown) =>
        (Array.isArray(value) ? value : []).flatMap((name) => byName(name) ?? []);
      return { leader: byName(row.leader), members: list(row.members), online: list(row.online) };
    },
    async waitAllRunning(timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      for (;;) {
        try {
          const status = JSON.parse(
            await cluster.rabbitmqctl(['cluster_status', '--formatter', 'json']),
          ) as { running_nodes?: string[] };
          const running = new Set(status.running_nodes ?? []);
          const answering = await Promise.all(nodes.map((node) => amqpAnswers(node.url, 3000)));
          if (nodes.every((node, index) => running.has(node.nodeName) && answering[index])) return;
          last = `running ${[...running].join(', ')}; answering AMQP ${answering.join(', ')}`;
        } catch (err) {
          last = err instanceof Error ? err.message : String(err);
        }
        if (Date.now() > deadline) {
          throw new Error(`the cluster did not come up within ${timeoutMs} ms: ${last}`);
        }
        await sleep(500);
      }
    },
    dispose,
  };

  try {
    const [first, ...others] = nodes as [PrivateRabbit, ...PrivateRabbit[]];
    for (const node of others) {
      await node.rabbitmqctl(['stop_app']);
      await node.rabbitmqctl(['reset']);
      await node.rabbitmqctl(['join_cluster', first.nodeName]);
      await node.rabbitmqctl(['start_app']);
    }
    await cluster.waitAllRunning();
  } catch (err) {
    await dispose();
    throw err;
  }
  return cluster;
}
