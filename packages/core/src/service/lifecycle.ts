import { serializeError, type Logger } from '../logger.js';

/**
 * The states of a service (the worker, the ingress), logged on every transition:
 *
 * ```
 * idle ─start()─▶ starting ──────────▶ running ─close()─▶ closing ─▶ closed
 *                    ├─close()──────────────────────────────▲
 *                    └─a step failed, what started is closed──────▶ failed
 * ```
 *
 * `close()` before `start()` goes straight to `closed`. `failed` is final, like `closed`.
 */
export type ServiceState = 'idle' | 'starting' | 'running' | 'closing' | 'closed' | 'failed';

/** What a service's start steps are given. */
export interface StartContext {
  /** Aborted when `close()` is called before the start finished, or when a step failed. */
  readonly signal: AbortSignal;
  /**
   * Registers how to undo a step that has started (close a server, a connection, destroy
   * clients). The registered undos run in reverse order, each isolated from the others' failures,
   * on `close()` or as soon as a later step of the start fails.
   */
  readonly onClose: (step: string, undo: () => unknown) => void;
  /**
   * `promise`, or a rejection with the abort reason as soon as `close()` is called: for the waits
   * of a start (the broker, S3) that may last for ever and that `close()` must not wait out.
   */
  readonly until: <T>(promise: Promise<T>) => Promise<T>;
}

export interface LifecycleOptions {
  /** Names the service in errors (`cannot start a worker that is closed`). */
  readonly name: string;
  /** Receives a line per transition and per failed close step. */
  readonly logger: Logger;
  /**
   * Starts the service step by step, registering each step's undo with
   * {@link StartContext.onClose} as soon as the step has started, the first ones first: they are
   * undone last.
   */
  readonly start: (context: StartContext) => Promise<void>;
}

/**
 * The lifecycle both services share, apart from what they start: `start()` and `close()` are
 * memoized and `close()` is idempotent; a start that fails closes every step it had started (in
 * reverse order) and leaves the service `failed` with the error; `close()` during the start
 * interrupts its waits, then closes what it had started. Each close step runs even when an
 * earlier one failed (BullMQ's `Worker.close()`); a failure is logged, not thrown, since the
 * process is going away either way.
 */
export class Lifecycle {
  readonly #options: LifecycleOptions;
  readonly #abort = new AbortController();
  /** Undos of the started steps, in the order the steps started. */
  readonly #undos: { readonly step: string; readonly undo: () => unknown }[] = [];
  #state: ServiceState = 'idle';
  #error: unknown;
  #starting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: LifecycleOptions) {
    this.#options = options;
  }

  get state(): ServiceState {
    return this.#state;
  }

  /** Why the start failed, once `failed`. */
  get error(): unknown {
    return this.#error;
  }

  /**
   * Runs the start steps; rejects with the first failure once every step already started has
   * been closed. Resolves without running when `close()` is called meanwhile. Calling it again
   * returns the same promise; after `close()` it rejects.
   */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  /** Closes every started step, last started first; idempotent, the same promise every time. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #start(): Promise<void> {
    if (this.#state !== 'idle') {
      throw new Error(`cannot start a ${this.#options.name} that is ${this.#state}`);
    }
    this.#transition('starting');
    const signal = this.#abort.signal;
    try {
      await this.#options.start({
        signal,
        onClose: (step, undo) => {
          this.#undos.push({ step, undo });
        },
        until: (promise) => untilAborted(promise, signal),
      });
    } catch (err) {
      // close() interrupted the start: it closes what was started.
      if (signal.aborted) return;
      this.#error = err;
      // Ends the start's other waits (Promise.all leaves them running).
      this.#abort.abort(err);
      await this.#undoAll();
      this.#transition('failed', { error: serializeError(err) });
      throw err;
    }
    if (!signal.aborted) this.#transition('running');
  }

  async #close(): Promise<void> {
    switch (this.#state) {
      case 'idle':
        this.#transition('closed');
        return;
      case 'starting':
        this.#transition('closing');
        this.#abort.abort(new Error(`the ${this.#options.name} is closing`));
        await this.#starting?.catch(() => undefined);
        // The start failed before it saw the abort: it closed what it had started, and is failed.
        if (this.state === 'failed') return;
        break;
      case 'running':
        this.#transition('closing');
        break;
      case 'closing':
      case 'closed':
      case 'failed':
        // Failed: the start closed what it had started.
        return;
    }
    await this.#undoAll();
    this.#transition('closed');
  }

  async #undoAll(): Promise<void> {
    for (const { step, undo } of this.#undos.splice(0).reverse()) {
      try {
        await undo();
      } catch (err) {
        this.#options.logger.error('shutdown step failed', { step, error: serializeError(err) });
      }
    }
  }

  #transition(state: ServiceState, meta: Record<string, unknown> = {}): void {
    this.#state = state;
    this.#options.logger.info('service state', { state, ...meta });
  }
}

/** `promise`, or a rejection with the signal's reason as soon as it is aborted. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(signal.reason as Error);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([promise, aborted]).finally(() =>
    signal.removeEventListener('abort', onAbort),
  );
}
