import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { accessSync, constants, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect as tcpConnect } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from './eventually.js';
import { amqpAnswers } from './rabbit.js';
import { rabbitmqctl as runRabbitmqctl, registerRabbitNode } from './rabbitmqctl.js';

/** The server script itself: the Debian `/usr/sbin/rabbitmq-server` wrapper runs as `rabbitmq`. */
export const RABBITMQ_SERVER_SCRIPT = '/usr/lib/rabbitmq/bin/rabbitmq-server';

/** Where the machine's broker keeps its Erlang cookie (Debian), then the user's own. */
const MACHINE_COOKIES = ['/var/lib/rabbitmq/.erlang.cookie', join(homedir(), '.erlang.cookie')];

export interface PrivateRabbitOptions {
  /** `vm_memory_high_watermark.relative`, restored by `setMemoryAlarm(false)`. @default 0.4 */
  readonly memoryHighWatermark?: number;
  /** How long `start()` waits for AMQP to answer. @default 60000 */
  readonly startTimeoutMs?: number;
  /**
   * The Erlang cookie; nodes that are to form a cluster share one. @default the machine broker's
   * cookie when readable, else a random one
   */
  readonly cookie?: string;
  /**
   * Serve RabbitMQ's Prometheus metrics (the rabbitmq_prometheus plugin) on this port of
   * 127.0.0.1; off when absent.
   */
  readonly prometheusPort?: number;
}

/** A RabbitMQ node of its own, beside the machine's broker, that tests may stop, kill and block. */
export interface PrivateRabbit {
  /** `amqp://guest:guest@127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** `s3r-<hex>@localhost` */
  readonly nodeName: string;
  /** The node's HOME, holding its `.erlang.cookie` (for `HOME=<home> rabbitmqctl -n <node>`). */
  readonly home: string;
  /** True from the moment AMQP answered after a start until a stop or kill begins. */
  readonly up: boolean;
  /** Graceful stop (`rabbitmqctl stop`); the data directory stays for `start()`. */
  stop(): Promise<void>;
  /** SIGKILL the node's process group (beam.smp and its helpers): a crash, no clean shutdown. */
  kill(): Promise<void>;
  /** Starts the node again on the same data directory; resolves when AMQP answers. */
  start(): Promise<void>;
  /** Raises (`true`) or clears the memory alarm, which blocks (and unblocks) publishers. */
  setMemoryAlarm(on: boolean): Promise<void>;
  /**
   * Resolves once the Ra directory on disk (`names.dets`) names quorum queue `queue`. RabbitMQ
   * 3.10 writes that registration through the DETS write cache, about a second after the
   * declaration; a node SIGKILLed before it lands recovers the queue empty, its confirmed
   * messages lost (their log entries belong to a server it no longer knows).
   */
  quorumQueueOnDisk(queue: string, timeoutMs?: number): Promise<void>;
  /** `rabbitmqctl -n <node> ...args` with the node's HOME; resolves with stdout. */
  rabbitmqctl(args: readonly string[]): Promise<string>;
  /** Kills the node if running and deletes its directory; idempotent. */
  dispose(): Promise<void>;
}

/** True when the RabbitMQ server is installed where Debian puts it. */
export function rabbitmqServerInstalled(): boolean {
  try {
    accessSync(RABBITMQ_SERVER_SCRIPT, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a private RabbitMQ node (about 5–10 s) and resolves once it answers AMQP.
 *
 * It runs from a temporary directory that holds everything it writes: `RABBITMQ_MNESIA_BASE`,
 * `RABBITMQ_LOG_BASE`, an empty plugin list, its config (AMQP and Erlang distribution on
 * 127.0.0.1, free ports) and `HOME`. `HOME` holds a copy of the machine broker's Erlang cookie
 * when readable (so the system's `rabbitmqctl -n <node>` works too), else a random one; either way
 * {@link PrivateRabbit.rabbitmqctl} and the helpers in rabbit.ts reach it with that HOME. epmd is
 * shared with the machine's broker. The server runs in the foreground as a child in its own
 * process group, so `kill()` takes beam.smp and its helpers down at once, and so does the exit of
 * the test process.
 */
export async function startPrivateRabbit(
  options: PrivateRabbitOptions = {},
): Promise<PrivateRabbit> {
  if (!rabbitmqServerInstalled()) {
    throw new Error(
      `${RABBITMQ_SERVER_SCRIPT} not found: install RabbitMQ (apt-get install rabbitmq-server)`,
    );
  }
  const watermark = options.memoryHighWatermark ?? 0.4;
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const base = await mkdtemp(join(tmpdir(), 's3relay-rabbit-'));
  const home = join(base, 'home');
  const [port, distPort] = await freePortPair();
  const nodeName = `s3r-${randomBytes(4).toString('hex')}@localhost`;
  await mkdir(home);
  await writeFile(join(home, '.erlang.cookie'), options.cookie ?? erlangCookie(), { mode: 0o400 });
  const prometheus = options.prometheusPort;
  await writeFile(
    join(base, 'enabled_plugins'),
    prometheus === undefined ? '[].\n' : '[rabbitmq_prometheus].\n',
  );
  await writeFile(
    join(base, 'rabbitmq.conf'),
    [
      `listeners.tcp.1 = 127.0.0.1:${port}`,
      ...(prometheus === undefined
        ? []
        : [`prometheus.tcp.ip = 127.0.0.1`, `prometheus.tcp.port = ${prometheus}`]),
      `vm_memory_high_watermark.relative = ${watermark}`,
      // Temporary directories live on small disks in CI; the default 50 MB limit would block.
      'disk_free_limit.absolute = 1MB',
      'log.file.level = info',
      '',
    ].join('\n'),
  );
  // Replaces /etc/rabbitmq/rabbitmq-env.conf, whose NODENAME and listeners are the machine's.
  await writeFile(join(base, 'rabbitmq-env.conf'), 'ERL_EPMD_ADDRESS=127.0.0.1\n');
  const { NODE_OPTIONS: _ignored, ...parentEnv } = process.env;
  const env: NodeJS.ProcessEnv = {
    ...parentEnv,
    HOME: home,
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(base, 'mnesia'),
    RABBITMQ_LOG_BASE: join(base, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(base, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(base, 'rabbitmq.conf'),
    RABBITMQ_CONF_ENV_FILE: join(base, 'rabbitmq-env.conf'),
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  };
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  const unregister = registerRabbitNode(nodeName, home, port);
  let child: ChildProcess | undefined;
  let up = false;
  let disposed: Promise<void> | undefined;

  // A test process that dies must not leave a broker behind.
  const killOnExit = () => {
    if (child?.pid !== undefined) killGroup(child.pid);
    rmSync(base, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);

  const ctl = (args: readonly string[]) => runRabbitmqctl(args, { node: nodeName, home });

  const start = async () => {
    if (child !== undefined && isRunning(child)) throw new Error(`${nodeName} is already running`);
    const output = await open(join(base, 'server.out'), 'a');
    try {
      child = spawn(RABBITMQ_SERVER_SCRIPT, [], {
        cwd: base,
        env,
        detached: true,
        stdio: ['ignore', output.fd, output.fd],
      });
    } finally {
      await output.close();
    }
    child.unref();
    const current = child;
    const deadline = Date.now() + startTimeoutMs;
    while (!(await amqpAnswers(url, 1000))) {
      if (!isRunning(current)) {
        throw new Error(`${nodeName} exited while starting:\n${await tail(base)}`);
      }
      if (Date.now() > deadline) {
        killGroup(current.pid);
        throw new Error(
          `${nodeName} did not answer AMQP within ${startTimeoutMs} ms:\n${await tail(base)}`,
        );
      }
      await sleep(250);
    }
    up = true;
  };

  const kill = async () => {
    up = false;
    const current = child;
    if (current === undefined || !isRunning(current)) return;
    const exited = once(current, 'exit');
    current.ref(); // Keep the process alive while waiting for it.
    killGroup(current.pid);
    await exited;
    // beam.smp is not our child; wait until its listener is gone so start() cannot race it.
    await waitPortClosed(port, 10_000);
  };

  const stop = async () => {
    up = false;
    const current = child;
    if (current === undefined || !isRunning(current)) return;
    const exited = once(current, 'exit');
    current.ref();
    try {
      await ctl(['stop']);
      await Promise.race([exited, sleep(30_000).then(() => Promise.reject(new Error('timeout')))]);
    } catch {
      // Could not stop it cleanly; do not leave it running.
      await kill();
    }
    await waitPortClosed(port, 10_000);
  };

  const setMemoryAlarm = async (on: boolean) => {
    await ctl(['set_vm_memory_high_watermark', on ? '0.000001' : String(watermark)]);
    // The alarm is set (or cleared) by the memory monitor right away; confirm before returning.
    for (let attempt = 0; ; attempt += 1) {
      const alarms = await ctl(['eval', 'rabbit_alarm:get_alarms().']);
      if (/resource_limit,\s*memory/.test(alarms) === on) return;
      if (attempt >= 40)
        throw new Error(`memory alarm of ${nodeName} did not turn ${on ? 'on' : 'off'}: ${alarms}`);
      await sleep(250);
    }
  };

  const quorumQueueOnDisk = async (queue: string, timeoutMs = 10_000) => {
    const names = join(base, 'mnesia', nodeName, 'quorum', nodeName, 'names.dets');
    await eventually(
      async () => {
        const directory = await readFile(names).catch(() => Buffer.alloc(0));
        if (!directory.includes(queue)) throw new Error(`${names} does not name ${queue}`);
      },
      { timeoutMs, message: 'quorum queue registered on disk' },
    );
  };

  const dispose = () => {
    disposed ??= (async () => {
      await kill();
      process.off('exit', killOnExit);
      unregister();
      await rm(base, { recursive: true, force: true });
    })();
    return disposed;
  };

  try {
    await start();
  } catch (err) {
    await dispose();
    throw err;
  }
  return {
    url,
    port,
    nodeName,
    home,
    get up() {
      return up;
    },
    stop,
    kill,
    start,
    setMemoryAlarm,
    quorumQueueOnDisk,
    rabbitmqctl: ctl,
    dispose,
  };
}

function erlangCookie(): string {
  for (const path of MACHINE_COOKIES) {
    try {
      const cookie = readFileSync(path, 'utf8').trim();
      if (cookie !== '') return cookie;
    } catch {
      // Not readable by this user: try the next one.
    }
  }
  return randomBytes(20).toString('hex').toUpperCase();
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Two different ports free on 127.0.0.1 right now (AMQP and Erlang distribution). */
async function freePortPair(): Promise<[number, number]> {
  const servers = await Promise.all(
    [0, 1].map(async () => {
      const server = createServer();
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return server;
    }),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return [ports[0] ?? 0, ports[1] ?? 0];
}

async function waitPortClosed(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const accepting = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (!accepting) return;
    await sleep(100);
  }
  throw new Error(`port ${port} still accepts connections after ${timeoutMs} ms`);
}

/** The end of the server's output and log, for start failures. */
async function tail(base: string): Promise<string> {
  const output = await readFile(join(base, 'server.out'), 'utf8').catch(() => '');
  return output.split('\n').slice(-40).join('\n');
}
