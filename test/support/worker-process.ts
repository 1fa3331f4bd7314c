import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
/** Messages run-worker.mjs sends to its parent. */
type WorkerChildMessage =
  | { readonly type: 'ready'; readonly metricsPort: number | undefined }
  | { readonly type: 'closed' }
  | { readonly type: 'memory'; readonly peakRssBytes: number; readonly sampledPeakRssBytes: number }
  | { readonly type: 'failed'; readonly error: string };

const RUN_WORKER = fileURLToPath(new URL('./run-worker.mjs', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Lines of output kept for failure messages. */
const KEPT_LINES = 200;

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves once the worker consumes; rejects when it exits or fails first. */
  readonly ready: Promise<{ metricsPort: number | undefined }>;
  /** Resolves when the process exits, however. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines the worker wrote (its JSON log), for failure messages. */
  output(): string;
  /** The peak resident set size so far, in bytes, as the child measures it. */
  memory(): Promise<{ peakRssBytes: number; sampledPeakRssBytes: number }>;
  /** Sends SIGTERM (a graceful close) and waits for the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL, for cleanup; resolves at once when already gone. */
  kill(): Promise<void>;
}

export interface SpawnWorkerOptions {
  /**
   * `source`: the TypeScript sources through tsx (no build needed). `built`: the packages' dist
   * with plain Node, as in production, for measurements a TypeScript loader would distort (tsx
   * adds about 30 MiB of RSS); run {@link buildWorker} first. @default 'source'
   */
  readonly from?: 'source' | 'built';
}

/**
 * Starts `test/support/run-worker.mjs` in a child process with `env` on top of this process's
 * environment.
 */
export function spawnWorker(
  env: Record<string, string>,
  options: SpawnWorkerOptions = {},
): WorkerProcess {
  const { NODE_OPTIONS: _ignored, ...inherited } = process.env;
  const loader = options.from === 'built' ? [] : ['--conditions=source', '--import', 'tsx'];
  const child = spawn(process.execPath, [...loader, RUN_WORKER], {
    cwd: REPO_ROOT,
    env: { LOG_LEVEL: 'warn', ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const lines: string[] = [];
  const keep = (chunk: string) => {
    lines.push(...chunk.split('\n').filter((line) => line !== ''));
    lines.splice(0, Math.max(0, lines.length - KEPT_LINES));
  };
  child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  const output = () => lines.join('\n');
  const ready = new Promise<{ metricsPort: number | undefined }>((resolve, reject) => {
    const onMessage = (message: WorkerChildMessage) => {
      if (message.type === 'ready') resolve({ metricsPort: message.metricsPort });
      if (message.type === 'failed') reject(new Error(`worker failed to start: ${message.error}`));
    };
    child.on('message', onMessage);
    void exited.then(({ code, signal }) =>
      reject(new Error(`worker exited (${code ?? signal}) before it was ready:\n${output()}`)),
    );
  });
  // A test that fails before awaiting `ready` must not leave an unhandled rejection behind.
  ready.catch(() => undefined);
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    pid: child.pid ?? -1,
    ready,
    exited,
    output,
    memory: () =>
      new Promise((resolve, reject) => {
        const onMessage = (message: WorkerChildMessage) => {
          if (message.type !== 'memory') return;
          child.off('message', onMessage);
          resolve({
            peakRssBytes: message.peakRssBytes,
            sampledPeakRssBytes: message.sampledPeakRssBytes,
          });
        };
        child.on('message', onMessage);
        child.send({ type: 'memory' }, (err) => {
          if (err !== null) reject(err);
        });
      }),
    async stop() {
      if (alive()) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (alive()) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Builds @s3relay/worker and what it depends on (`tsc -b`), for {@link spawnWorker} `built`. */
export async function buildWorker(): Promise<void> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    await promisify(execFile)(process.execPath, [tsc, '-b', 'packages/worker'], { cwd: REPO_ROOT });
  } catch (err) {
    const output = err as { stdout?: string; stderr?: string };
    throw new Error(`tsc -b packages/worker failed:\n${output.stdout ?? ''}${output.stderr ?? ''}`);
  }
}
