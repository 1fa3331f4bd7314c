import { setTimeout as sleep } from 'node:timers/promises';

export interface EventuallyOptions {
  /** Give up after this long. @default 10000 */
  readonly timeoutMs?: number;
  /** Pause between attempts. @default 50 */
  readonly intervalMs?: number;
  /** Prefixed to the last error when giving up, to say what was awaited. */
  readonly message?: string;
}

/**
 * Calls `fn` until it returns without throwing and resolves with its value: poll, don't sleep.
 * An attempt still pending at the deadline counts as failed (it is left to finish unobserved).
 * Thrown when `timeoutMs` passes first: the last error of `fn` itself (so an assertion error
 * keeps its diff), its message prefixed with `options.message` and the time waited.
 */
export async function eventually<T>(
  fn: () => T | Promise<T>,
  options: EventuallyOptions = {},
): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 50, message } = options;
  const deadline = Date.now() + timeoutMs;
  let attempts = 0;
  for (;;) {
    attempts += 1;
    try {
      return await withDeadline(fn, deadline);
    } catch (err) {
      if (Date.now() + intervalMs > deadline) {
        throw giveUp(
          err,
          `${message ?? 'condition not met'} within ${timeoutMs} ms (${attempts} attempts)`,
        );
      }
    }
    await sleep(intervalMs);
  }
}

/** An attempt that hangs (a get on a queue that is still recovering) must not outlive the deadline. */
async function withDeadline<T>(fn: () => T | Promise<T>, deadline: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(fn),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error('attempt still running at the deadline')),
          Math.max(0, deadline - Date.now()),
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function giveUp(err: unknown, prefix: string): Error {
  if (err instanceof Error) {
    err.message = `${prefix}: ${err.message}`;
    return err;
  }
  return new Error(`${prefix}: ${String(err)}`);
}
