import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The s3relay CLI, from its TypeScript sources: no build needed. */
const CLI_MAIN = fileURLToPath(new URL('../../packages/cli/src/main.ts', import.meta.url));
/** Resolved here: `--import tsx` would otherwise be resolved from the child's working directory. */
const TSX = import.meta.resolve('tsx');
/** Lines of output kept in memory per process, for failure reports. */
const KEPT_LINES = 300;
/** Every child still running, whatever its group: none may outlive the runner. */
const living = new Set<ChildProcess>();

/** SIGKILLs every service process still running (the runner is exiting). */
export function killAllServices(): void {
  for (const child of living) child.kill('SIGKILL');
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One `s3relay <command>` child process, its log written to a file. */
export interface ServiceProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves when the process has exited, however. */
  readonly exited: Promise<Exit>;
  /** True while running. */
  readonly alive: boolean;
  /** The last lines it wrote (stdout and stderr). */
  tail(lines?: number): string;
  /** Everything a command (`oneShot`) wrote to stdout, whole; '' for a service. */
  stdout(): string;
  /** Resolves with the first line matching `pattern`; rejects on exit or after `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** Sends `signal` (a fault or a stop the test causes: the exit is then expected). */
  kill(signal: NodeJS.Signals): Promise<Exit>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when gone. */
  stop(graceMs?: number): Promise<Exit>;
}

/** Watches every process of a scenario: which exits did the test not cause? */
export class ProcessGroup {
  readonly #processes: ServiceProcess[] = [];
  readonly #expected = new Set<ServiceProcess>();
  readonly #unexpected: { name: string; exit: Exit; tail: string }[] = [];
  readonly #logDir: string;
  readonly #env: NodeJS.ProcessEnv;

  constructor(logDir: string, env: NodeJS.ProcessEnv) {
    this.#logDir = logDir;
    this.#env = env;
  }

  /** Exits nobody asked for, with the last lines of their output. */
  get unexpectedExits(): readonly { name: string; exit: Exit; tail: string }[] {
    return this.#unexpected;
  }

  get processes(): readonly ServiceProcess[] {
    return this.#processes;
  }

  /**
   * Starts `s3relay ...args` with the group's environment plus `env`. A long-running service's
   * exit counts as unexpected unless it went through {@link ServiceProcess.kill} or `stop`;
   * a command (`oneShot`) may exit by itself.
   */
  start(
    name: string,
    args: readonly string[],
    env: NodeJS.ProcessEnv = {},
    options: { readonly oneShot?: boolean } = {},
  ): ServiceProcess {
    const { NODE_OPTIONS: _ignored, ...inherited } = process.env;
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', TSX, CLI_MAIN, ...args],
      {
        // Not the repository: a developer's .env there must not change the scenario.
        cwd: this.#logDir,
        env: { ...inherited, ...this.#env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    living.add(child);
    child.once('exit', () => living.delete(child));
    const log: WriteStream = createWriteStream(`${this.#logDir}/${name}.log`, { flags: 'a' });
    log.on('error', () => undefined);
    const lines: string[] = [];
    // A command's result (`--json`) can be longer than the tail kept for failure reports.
    const stdoutLines: string[] = [];
    const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
    for (const stream of [child.stdout, child.stderr]) {
      if (stream === null) continue;
      const whole = options.oneShot === true && stream === child.stdout;
      createInterface({ input: stream }).on('line', (line) => {
        log.write(`${line}\n`);
        if (whole) stdoutLines.push(line);
        lines.push(line);
        if (lines.length > KEPT_LINES) lines.shift();
        for (const waiter of [...waiters]) {
          if (waiter.pattern.test(line)) {
            waiters.delete(waiter);
            waiter.resolve(line);
          }
        }
      });
    }
    const exited = once(child, 'exit').then(([code, signal]): Exit => {
      log.end();
      return { code: code as number | null, signal: signal as NodeJS.Signals | null };
    });
    const isAlive = () => child.exitCode === null && child.signalCode === null;
    const tail = (count = 40) => lines.slice(-count).join('\n');
    const service: ServiceProcess = {
      name,
      pid: child.pid ?? -1,
      child,
      exited,
      get alive() {
        return isAlive();
      },
      tail,
      stdout: () => stdoutLines.join('\n'),
      waitForLine: (pattern, timeoutMs) =>
        new Promise<string>((resolve, reject) => {
          const found = lines.find((line) => pattern.test(line));
          if (found !== undefined) {
            resolve(found);
            return;
          }
          const waiter = {
            pattern,
            resolve: (line: string) => {
              clearTimeout(timer);
              resolve(line);
            },
          };
          const timer = setTimeout(() => {
            waiters.delete(waiter);
            reject(
              new Error(`${name}: no line matching ${String(pattern)} within ${timeoutMs} ms`),
            );
          }, timeoutMs);
          waiters.add(waiter);
          void exited.then((exit) => {
            if (!waiters.delete(waiter)) return;
            clearTimeout(timer);
            reject(new Error(`${name} exited (${describeExit(exit)}):\n${tail()}`));
          });
        }),
      kill: async (signal) => {
        this.#expected.add(service);
        if (isAlive()) child.kill(signal);
        return exited;
      },
      stop: async (graceMs = 30_000) => {
        this.#expected.add(service);
        if (isAlive()) child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const exit = await exited;
        clearTimeout(timer);
        return exit;
      },
    };
    void exited.then((exit) => {
      if (options.oneShot === true || this.#expected.has(service)) return;
      this.#unexpected.push({ name, exit, tail: tail() });
    });
    this.#processes.push(service);
    return service;
  }

  /**
   * Runs a one-shot command to its end; resolves with its exit, the tail of its output (both
   * streams) and the whole of its stdout.
   */
  async run(
    name: string,
    args: readonly string[],
    env: NodeJS.ProcessEnv,
    timeoutMs: number,
  ): Promise<{ exit: Exit; output: string; stdout: string }> {
    const command = this.start(name, args, env, { oneShot: true });
    const timer = setTimeout(() => command.child.kill('SIGKILL'), timeoutMs);
    const exit = await command.exited;
    clearTimeout(timer);
    return { exit, output: command.tail(KEPT_LINES), stdout: command.stdout() };
  }

  /** Stops every process still running (SIGTERM, then SIGKILL after `graceMs`). */
  async stopAll(graceMs: number): Promise<void> {
    await Promise.all(this.#processes.filter((p) => p.alive).map((p) => p.stop(graceMs)));
  }
}

export function describeExit(exit: Exit): string {
  return exit.signal === null ? `code ${String(exit.code)}` : exit.signal;
}
