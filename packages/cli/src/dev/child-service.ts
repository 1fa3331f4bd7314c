import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The `s3relay` entry point of this installation (the built `main.js`). */
export const CLI_MAIN = fileURLToPath(new URL('../main.js', import.meta.url));

/** An `s3relay` service running as a child process, its output prefixed with its name. */
export interface ChildService {
  readonly name: string;
  readonly process: ChildProcess;
  /** Resolves with the exit code (or signal) once the child has exited. */
  readonly exited: Promise<number | NodeJS.Signals>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the child is gone. */
  stop(graceMs: number): Promise<void>;
}

export function startChildService(
  name: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  write: (line: string) => void,
): ChildService {
  const child = spawn(process.execPath, [CLI_MAIN, ...args], {
    env,
    // The channel is how the child learns that `dev` is gone, even when it was SIGKILLed
    // (see exit-with-parent.ts): no service outlives the stack that started it.
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (stream === null) continue;
    createInterface({ input: stream }).on('line', (line) => write(`[${name}] ${line}`));
  }
  const exited = once(child, 'exit').then(
    ([code, signal]) => (code ?? signal) as number | NodeJS.Signals,
  );
  return {
    name,
    process: child,
    exited,
    async stop(graceMs) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
