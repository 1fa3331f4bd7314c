import { randomBytes } from 'node:crypto';
import type { JobKind, JobView } from './api-types.js';
import type { Progress } from './operations.js';

interface Job {
  readonly id: string;
  readonly kind: JobKind;
  readonly startedAt: number;
  finishedAt: number | undefined;
  state: JobView['state'];
  progress: Readonly<Record<string, number>>;
  result: unknown;
  error: string | undefined;
}

/** Thrown when an operation is asked for while another one runs. */
export class BusyError extends Error {
  override readonly name = 'BusyError';
}

/** Finished jobs remembered for the page to read their results. */
const KEPT_JOBS = 50;

/**
 * Long operations (a DLQ walk, a resync) run as jobs the page polls for progress and result. One
 * runs at a time: two walks of the DLQ at once would only slow each other down, and a replay
 * racing a drop is not something an operator means to do.
 */
export class Jobs {
  readonly #jobs = new Map<string, Job>();
  #running: Job | undefined;
  #settled: Promise<void> = Promise.resolve();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** The job running now, if any. */
  get running(): JobView | undefined {
    return this.#running === undefined ? undefined : view(this.#running);
  }

  /**
   * Starts `work` as a job and returns at once; `onDone` runs after it settles either way.
   * Thrown as {@link BusyError} while another job runs.
   */
  start(
    kind: JobKind,
    work: (progress: Progress) => Promise<unknown>,
    onDone?: (job: JobView) => void,
  ): JobView {
    if (this.#running !== undefined) {
      throw new BusyError(`a ${this.#running.kind} is running; wait for it to finish`);
    }
    const job: Job = {
      id: randomBytes(8).toString('hex'),
      kind,
      startedAt: this.#now(),
      finishedAt: undefined,
      state: 'running',
      progress: {},
      result: undefined,
      error: undefined,
    };
    this.#running = job;
    this.#jobs.set(job.id, job);
    while (this.#jobs.size > KEPT_JOBS) {
      const oldest = this.#jobs.keys().next().value;
      if (oldest === undefined) break;
      this.#jobs.delete(oldest);
    }
    const progress: Progress = (counts) => {
      job.progress = { ...counts };
    };
    this.#settled = work(progress)
      .then(
        (result) => {
          job.result = result;
          job.state = 'done';
        },
        (err: unknown) => {
          job.error = err instanceof Error ? err.message : String(err);
          job.state = 'failed';
        },
      )
      .finally(() => {
        job.finishedAt = this.#now();
        this.#running = undefined;
        onDone?.(view(job));
      });
    return view(job);
  }

  get(id: string): JobView | undefined {
    const job = this.#jobs.get(id);
    return job === undefined ? undefined : view(job);
  }

  /** Resolves once no job runs (shutdown waits for a walk to finish rather than cut it). */
  idle(): Promise<void> {
    return this.#settled;
  }
}

function view(job: Job): JobView {
  return {
    id: job.id,
    kind: job.kind,
    state: job.state,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    progress: job.progress,
    result: job.result,
    error: job.error,
  };
}
