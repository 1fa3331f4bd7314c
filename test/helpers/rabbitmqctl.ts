import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The RabbitMQ command-line tools the test bed runs. */
export type RabbitmqTool = 'rabbitmqctl' | 'rabbitmq-upgrade' | 'rabbitmq-queues';

/** Where Debian puts the real scripts of the tools. */
const RABBITMQ_BIN = '/usr/lib/rabbitmq/bin';

/**
 * The real CLI script. The Debian `/usr/sbin/rabbitmqctl` (like the other tools there) is a
 * wrapper that, run as root, switches to the `rabbitmq` user and its HOME (and so its Erlang
 * cookie); a private node started by the test bed is reached with this script and the node's own
 * HOME instead.
 */
export const RABBITMQCTL_SCRIPT = `${RABBITMQ_BIN}/rabbitmqctl`;

/** Which node a `rabbitmqctl` call addresses, and with which HOME (whose `.erlang.cookie`). */
export interface RabbitmqctlTarget {
  /** `-n <node>`; the CLI's default node (`rabbit@<host>`) when absent. */
  readonly node?: string;
  /** HOME holding the node's `.erlang.cookie`; the machine's broker's when absent. */
  readonly home?: string;
}

/** A private node known to this process: how to reach it with rabbitmqctl and AMQP. */
interface KnownNode {
  readonly node: string;
  readonly home: string;
  readonly amqpPort: number;
}

const knownNodes = new Map<string, KnownNode>();

/**
 * Environment variables by which the global setup tells the test workers which node it started
 * when no broker answered (they inherit the environment of the main Vitest process).
 */
export const PRIVATE_NODE_ENV = {
  node: 'S3RELAY_TEST_RABBITMQ_NODE',
  home: 'S3RELAY_TEST_RABBITMQ_HOME',
  port: 'S3RELAY_TEST_RABBITMQ_PORT',
} as const;

/** Makes {@link rabbitmqctl} reach `node` with `home`; returns an unregister function. */
export function registerRabbitNode(node: string, home: string, amqpPort: number): () => void {
  knownNodes.set(node, { node, home, amqpPort });
  return () => {
    knownNodes.delete(node);
  };
}

/**
 * The node behind an AMQP URL when this process knows it (a private node, or the one the global
 * setup started), else the CLI's default node. A URL through a proxy is not recognised.
 */
export function targetForUrl(url: string): RabbitmqctlTarget {
  const port = Number(new URL(url).port || 5672);
  for (const known of allKnownNodes()) {
    if (known.amqpPort === port) return { node: known.node, home: known.home };
  }
  return {};
}

/** A target for `node`, with the HOME the test bed knows for it. */
export function targetForNode(node: string | undefined): RabbitmqctlTarget {
  if (node === undefined) return defaultTarget();
  const known = allKnownNodes().find((candidate) => candidate.node === node);
  return known === undefined ? { node } : { node, home: known.home };
}

function defaultTarget(): RabbitmqctlTarget {
  const node = process.env[PRIVATE_NODE_ENV.node];
  const home = process.env[PRIVATE_NODE_ENV.home];
  return node === undefined ? {} : { node, home };
}

function allKnownNodes(): KnownNode[] {
  const nodes = [...knownNodes.values()];
  const node = process.env[PRIVATE_NODE_ENV.node];
  const home = process.env[PRIVATE_NODE_ENV.home];
  const port = Number(process.env[PRIVATE_NODE_ENV.port]);
  if (node !== undefined && home !== undefined && Number.isInteger(port)) {
    nodes.push({ node, home, amqpPort: port });
  }
  return nodes;
}

/** The executable of `tool` to use, or undefined when RabbitMQ is not installed. */
export function findRabbitmqTool(
  tool: RabbitmqTool,
  target: RabbitmqctlTarget = {},
): string | undefined {
  const script = `${RABBITMQ_BIN}/${tool}`;
  if (target.home !== undefined && isExecutable(script)) return script;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    if (dir !== '' && isExecutable(join(dir, tool))) return join(dir, tool);
  }
  return isExecutable(script) ? script : undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `rabbitmqctl [-n node] ...args` and resolves with its stdout. Thrown when rabbitmqctl is
 * not installed, fails, or takes longer than `timeoutMs`; the message carries its stderr.
 */
export function rabbitmqctl(
  args: readonly string[],
  target: RabbitmqctlTarget = defaultTarget(),
  timeoutMs = 30_000,
): Promise<string> {
  return runRabbitmqTool('rabbitmqctl', args, target, timeoutMs);
}

/** Runs `tool [-n node] ...args` like {@link rabbitmqctl}. */
export async function runRabbitmqTool(
  tool: RabbitmqTool,
  args: readonly string[],
  target: RabbitmqctlTarget = defaultTarget(),
  timeoutMs = 30_000,
): Promise<string> {
  const executable = findRabbitmqTool(tool, target);
  if (executable === undefined) {
    throw new Error(`${tool} is not installed (apt-get install rabbitmq-server)`);
  }
  const fullArgs = target.node === undefined ? [...args] : ['-n', target.node, ...args];
  // A CLI run against a node being torn down can crash its Erlang VM: no erl_crash.dump in the
  // working directory (the repository) for that.
  const env = {
    ...process.env,
    ERL_CRASH_DUMP_SECONDS: '0',
    ...(target.home === undefined ? {} : { HOME: target.home }),
  };
  try {
    const { stdout } = await execFileAsync(executable, fullArgs, {
      env,
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const { stderr, stdout } = err as { stderr?: string; stdout?: string };
    throw new Error(
      `${tool} ${fullArgs.join(' ')} failed: ${(stderr ?? '').trim() || (stdout ?? '').trim()}`,
      { cause: err },
    );
  }
}
