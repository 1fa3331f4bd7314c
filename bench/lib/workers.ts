import { profileFlags } from './cpu-profile.js';
import { CLI, memoryOf, spawnChild, type ChildProc } from './processes.js';
import { scrape, type Sample } from './prometheus.js';

/** One `task done` line of a worker's JSON log. */
export interface TaskDone {
  readonly key: string;
  readonly outcome: string;
  /** The worker's own clock when it logged the line, epoch ms. */
  readonly at: number;
}

/** Workers started as `s3relay worker` child processes, as in production. */
export interface WorkerGroup {
  readonly processes: readonly ChildProc[];
  readonly pids: readonly number[];
  readonly metricsUrls: readonly string[];
  /** Every `task done` so far, in the order the lines arrived. */
  readonly done: readonly TaskDone[];
  /** Warnings and errors the workers logged (the first 20). */
  readonly problems: readonly string[];
  /** Resolves once `count` tasks are done (any outcome); rejects after `timeoutMs`. */
  waitDone(count: number, timeoutMs: number): Promise<void>;
  /** Each worker's /metrics now. */
  scrape(): Promise<Sample[][]>;
  /** The sum over workers of their peak resident set size (VmHWM), in bytes. */
  peakRssBytes(): number;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
}

/**
 * Starts `count` workers with `env` (on top of this process's environment; METRICS_PORT=0 and
 * LOG_FORMAT=json are forced) and resolves once every one consumes.
 */
export async function startWorkers(
  count: number,
  env: Record<string, string>,
): Promise<WorkerGroup> {
  const done: TaskDone[] = [];
  const problems: string[] = [];
  const metricsUrls: string[] = [];
  let waiters: { count: number; resolve: () => void }[] = [];
  const readies: Promise<void>[] = [];
  const processes: ChildProc[] = [];
  for (let index = 0; index < count; index += 1) {
    let ready: () => void = () => undefined;
    readies.push(new Promise<void>((resolve) => (ready = resolve)));
    const onLine = (line: string) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (entry.message === 'task done') {
        done.push({
          key: String(entry.key),
          outcome: String(entry.outcome),
          at: Date.parse(String(entry.timestamp)),
        });
        const due = waiters.filter((waiter) => done.length >= waiter.count);
        waiters = waiters.filter((waiter) => done.length < waiter.count);
        for (const waiter of due) waiter.resolve();
      } else if (entry.message === 'worker started') {
        metricsUrls[index] = `http://127.0.0.1:${String(entry.metricsPort)}/metrics`;
        ready();
      } else if (
        (entry.level === 'warn' || entry.level === 'error') &&
        // s3rver keeps no versions; the worker says so once at startup, which is no problem here.
        !String(entry.message).startsWith('the backup bucket is not versioned') &&
        problems.length < 20
      ) {
        problems.push(line);
      }
    };
    processes.push(
      spawnChild(`worker-${index + 1}`, process.execPath, [...profileFlags(), CLI, 'worker'], {
        env: { LOG_LEVEL: 'info', ...env, METRICS_PORT: '0', LOG_FORMAT: 'json' },
        onLine,
      }),
    );
  }
  const failed = Promise.race(
    processes.map((child) =>
      child.exited.then(() => {
        throw new Error(`${child.name} exited:\n${child.output()}`);
      }),
    ),
  );
  failed.catch(() => undefined);
  await Promise.race([Promise.all(readies), failed, timeout(30_000, 'workers did not start')]);
  return {
    processes,
    pids: processes.map((child) => child.pid),
    metricsUrls,
    done,
    problems,
    waitDone(wanted, timeoutMs) {
      if (done.length >= wanted) return Promise.resolve();
      const reached = new Promise<void>((resolve) => waiters.push({ count: wanted, resolve }));
      return Promise.race([
        reached,
        failed,
        timeout(
          timeoutMs,
          `only ${done.length} of ${wanted} tasks were done within ${timeoutMs} ms; problems:\n${problems.join('\n')}`,
        ),
      ]);
    },
    scrape: () => Promise.all(metricsUrls.map((url) => scrape(url))),
    peakRssBytes: () =>
      processes.reduce((total, child) => total + (memoryOf(child.pid)?.peakRssBytes ?? 0), 0),
    async stop() {
      await Promise.all(processes.map((child) => child.stop()));
    },
  };
}

function timeout(ms: number, message: string): Promise<never> {
  return new Promise((_resolve, reject) => {
    setTimeout(() => reject(new Error(message)), ms).unref();
  });
}
