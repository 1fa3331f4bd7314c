/**
 * Runs work for one key at a time within this process. Two deliveries of the same key (a
 * duplicate webhook, or a redelivery after a consumer timeout while the first copy still runs)
 * then copy once and skip once, instead of both streaming the object. Across workers nothing is
 * locked: each S3 write replaces the whole object, and the recheck after every write makes
 * concurrent writers converge.
 */
export class KeyLock {
  readonly #tails = new Map<string, Promise<void>>();

  /** Keys with work running or waiting. */
  get size(): number {
    return this.#tails.size;
  }

  /**
   * Waits for earlier work on `key`, then runs `work`. Rejects with the signal's reason when it
   * is aborted while waiting (the work then never starts).
   */
  async run<T>(key: string, signal: AbortSignal, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key);
    let release = (): void => undefined;
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous === undefined ? done : previous.then(() => done);
    this.#tails.set(key, tail);
    try {
      if (previous !== undefined) await untilSettledOrAborted(previous, signal);
      signal.throwIfAborted();
      return await work();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}

function untilSettledOrAborted(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const onAbort = () => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
