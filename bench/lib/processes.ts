import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import {
  closeSync,
  fstatSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The built CLI: what production runs (`npm run bench` builds first). */
export const CLI = fileURLToPath(new URL('../../packages/cli/dist/main.js', import.meta.url));

/** Lines of a child's output kept for error messages. */
const KEPT_LINES = 100;
/** How often a child's log file is read for new lines. */
const FOLLOW_INTERVAL_MS = 25;
/** Linux's USER_HZ: /proc times are in these ticks. */
const TICKS_PER_SECOND = 100;

export interface ChildProc {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The file its stdout and stderr go to. */
  readonly logFile: string;
  /** The last lines it wrote (stdout and stderr), for error messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves once it exited. */
  stop(timeoutMs?: number): Promise<void>;
}

export interface SpawnOptions {
  readonly env?: Record<string, string>;
  /** Called with every line it writes (stdout and stderr), read from its log file. */
  readonly onLine?: (line: string) => void;
}

let logDirectory: string | undefined;
let spawned = 0;

/** Where children's output goes during this run (a fresh temporary directory). */
export function childLogDirectory(): string {
  logDirectory ??= mkdtempSync(join(tmpdir(), 's3relay-bench-logs-'));
  return logDirectory;
}

/**
 * Spawns `command args` with this process's environment (less NODE_OPTIONS) plus `env`.
 *
 * Its output goes to a file, never to a pipe that this process reads: on Linux a child's writes
 * to a pipe are synchronous, and while this process is busy (generating load) the pipe fills
 * and the child blocks on its own logging, which would be measured as the child's slowness.
 * `onLine` is fed by following the file.
 */
export function spawnChild(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): ChildProc {
  const { NODE_OPTIONS: _ignored, ...inherited } = process.env;
  spawned += 1;
  const logFile = join(childLogDirectory(), `${String(spawned).padStart(3, '0')}-${name}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { ...inherited, ...options.env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  if (options.onLine !== undefined) followFile(logFile, options.onLine, exited);
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    name,
    pid: child.pid ?? -1,
    child,
    exited,
    logFile,
    output: () => tail(logFile, KEPT_LINES),
    async stop(timeoutMs = 15_000) {
      if (!alive()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Feeds every complete line appended to `file` to `onLine` until `until` settles (then once more). */
function followFile(file: string, onLine: (line: string) => void, until: Promise<unknown>): void {
  let offset = 0;
  let rest = '';
  let done = false;
  const read = () => {
    let fd: number | undefined;
    try {
      fd = openSync(file, 'r');
      const size = fstatSync(fd).size;
      if (size <= offset) return;
      const buffer = Buffer.alloc(size - offset);
      const got = readSync(fd, buffer, 0, buffer.length, offset);
      offset += got;
      const parts = (rest + buffer.toString('utf8', 0, got)).split('\n');
      rest = parts.pop() ?? '';
      for (const part of parts) if (part !== '') onLine(part);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  };
  const timer = setInterval(read, FOLLOW_INTERVAL_MS);
  void until.then(() => {
    if (done) return;
    done = true;
    clearInterval(timer);
    read();
  });
}

/** The last `lines` lines of `file`. */
function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  } catch {
    return '';
  }
}

/**
 * Runs `command args` to its end (environment: this process's, less NODE_OPTIONS, plus `env`)
 * and resolves with its exit code, stdout and stderr.
 */
export async function runToEnd(
  command: string,
  args: readonly string[],
  env: Record<string, string | undefined> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { NODE_OPTIONS: _ignored, ...inherited } = process.env;
  // An undefined value removes the variable.
  const merged = Object.fromEntries(
    Object.entries({ ...inherited, ...env }).filter(([, value]) => value !== undefined),
  );
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: merged,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/** A free TCP port on loopback (free when asked; good enough on a machine we do not race). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * CPU seconds (user + system) a process used so far, with those of its children that exited
 * (a script's `aws` processes); 0 when it is gone or not on Linux.
 */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 to 17 of proc(5) (utime, stime, cutime, cstime), counted from "state" (field 3).
    const ticks = [11, 12, 13, 14].reduce((total, index) => total + Number(fields[index]), 0);
    return ticks / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** The process and every descendant alive now. */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return [pid];
  }
  for (const entry of entries) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const children = parents.get(ppid) ?? [];
      children.push(Number(entry));
      parents.set(ppid, children);
    } catch {
      // Exited meanwhile.
    }
  }
  const tree = [pid];
  for (let index = 0; index < tree.length; index += 1) {
    tree.push(...(parents.get(tree[index] ?? -1) ?? []));
  }
  return tree;
}

/** Resident set size now and its peak (VmHWM), in bytes; undefined when unknown. */
export function memoryOf(pid: number): { rssBytes: number; peakRssBytes: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    const rss = kib('VmRSS');
    const peak = kib('VmHWM');
    if (!Number.isFinite(rss) || !Number.isFinite(peak)) return undefined;
    return { rssBytes: rss * 1024, peakRssBytes: peak * 1024 };
  } catch {
    return undefined;
  }
}

/** CPU seconds every process of the machine used so far (from /proc/stat); 0 off Linux. */
export function machineCpuSeconds(): number {
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    const busy = fields
      .slice(0, 8)
      .reduce((total, value, index) => (index === 3 || index === 4 ? total : total + value), 0);
    return busy / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/**
 * CPU accounting of named processes over a window: `start()` reads their CPU times,
 * `stop()` returns the seconds each used since, plus `machine`: what every process of the
 * machine used (so that `machine` less the named ones is someone else's load).
 */
export class CpuMeter {
  readonly #pids: Map<string, number[]>;
  #before = new Map<string, number>();
  #machineBefore = 0;

  constructor(processes: Readonly<Record<string, number | readonly number[]>>) {
    this.#pids = new Map(
      Object.entries(processes).map(([name, pids]) => [
        name,
        typeof pids === 'number' ? [pids] : [...pids],
      ]),
    );
  }

  start(): void {
    this.#before = new Map([...this.#pids].map(([name, pids]) => [name, this.#total(pids)]));
    this.#machineBefore = machineCpuSeconds();
  }

  /** CPU seconds per name since {@link start}, and `machine`. */
  stop(): Record<string, number> {
    return {
      ...Object.fromEntries(
        [...this.#pids].map(([name, pids]) => [
          name,
          this.#total(pids) - (this.#before.get(name) ?? 0),
        ]),
      ),
      machine: machineCpuSeconds() - this.#machineBefore,
    };
  }

  #total(pids: readonly number[]): number {
    return pids.reduce((total, pid) => total + cpuSeconds(pid), 0);
  }
}

/** The broker's OS process when it runs on this machine (the Erlang VM `beam.smp`). */
export async function rabbitPid(): Promise<number | undefined> {
  try {
    const { stdout } = await runToEnd('rabbitmqctl', ['status', '--formatter', 'json']);
    const pid = Number((JSON.parse(stdout) as { pid?: unknown }).pid);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Waits until `url` answers 2xx, polling; rejects after `timeoutMs` or when `child` exits. */
export async function waitHttpOk(url: string, child: ChildProc, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${child.name} exited before it was ready:\n${child.output()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await sleep(50);
  }
  throw new Error(
    `${child.name} was not ready at ${url} within ${timeoutMs} ms:\n${child.output()}`,
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
