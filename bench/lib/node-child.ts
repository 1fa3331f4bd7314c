import { fileURLToPath } from 'node:url';
import { spawnChild, type ChildProc, type SpawnOptions } from './processes.js';

/**
 * Starts a bench helper script (`bench/lib/<file>.ts`) under tsx in a process of its own, with
 * `nodeFlags` (the CPU profile's, for one) before the script.
 */
export function spawnBenchScript(
  name: string,
  file: string,
  args: readonly string[],
  options: SpawnOptions & { nodeFlags?: readonly string[] } = {},
): ChildProc {
  const path = fileURLToPath(new URL(`./${file}`, import.meta.url));
  const { nodeFlags = [], ...spawnOptions } = options;
  return spawnChild(
    name,
    process.execPath,
    [...nodeFlags, '--import', 'tsx', path, ...args],
    spawnOptions,
  );
}

/** Resolves with the first stdout line of `child` that satisfies `accept`; rejects if it exits first. */
export function firstLine(
  child: ChildProc,
  lines: string[],
  accept: (line: string) => boolean,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const found = lines.find(accept);
      if (found !== undefined) {
        clearInterval(timer);
        resolve(found);
      }
    }, 20);
    void child.exited.then(({ code, signal }) => {
      const found = lines.find(accept);
      clearInterval(timer);
      if (found !== undefined) resolve(found);
      else reject(new Error(`${child.name} exited (${code ?? signal}):\n${child.output()}`));
    });
  });
}

/** The prefix of the line by which a bench helper script reports its result. */
export const RESULT_PREFIX = 'RESULT ';

/** Prints `result` as a bench helper script's result line. */
export function reportResult(result: unknown): void {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

/** Runs a bench helper script to its end and parses its result line. */
export async function runBenchScript<T>(
  name: string,
  file: string,
  args: readonly string[],
): Promise<T> {
  let result: string | undefined;
  const child = spawnBenchScript(name, file, args, {
    onLine: (line) => {
      if (line.startsWith(RESULT_PREFIX)) result = line.slice(RESULT_PREFIX.length);
    },
  });
  const { code, signal } = await child.exited;
  // The last lines are read once the child exited; let that read happen.
  await new Promise((resolve) => setImmediate(resolve));
  if (code !== 0 || result === undefined) {
    throw new Error(`${name} failed (${code ?? signal}):\n${child.output()}`);
  }
  return JSON.parse(result) as T;
}
