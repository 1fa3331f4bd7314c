import { silentLogger, type Logger } from '@s3relay/core';
import type { QueueSample } from '../operations.js';

export interface QueueMonitorOptions {
  readonly sample: () => Promise<QueueSample[]>;
  /** @default 2000 */
  readonly intervalMs?: number;
  /** @default 15 minutes */
  readonly historyMs?: number;
  readonly logger?: Logger;
  readonly now?: () => number;
}

/** The queues as they were at one moment. */
export interface QueueReading {
  readonly at: number;
  readonly queues: readonly QueueSample[];
}

/**
 * Samples every queue's depth and consumers at a steady pace and keeps the recent history, from
 * which the console draws depths and how fast they change. One `checkQueue` per queue per sample:
 * nothing is consumed or redelivered.
 */
export class QueueMonitor {
  readonly #options: QueueMonitorOptions;
  readonly #intervalMs: number;
  readonly #historyMs: number;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #readings: QueueReading[] = [];
  #timer: NodeJS.Timeout | undefined;
  #sampling: Promise<void> | undefined;
  #error: string | undefined;

  constructor(options: QueueMonitorOptions) {
    this.#options = options;
    this.#intervalMs = options.intervalMs ?? 2000;
    this.#historyMs = options.historyMs ?? 15 * 60_000;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    void this.sampleNow();
    this.#timer = setInterval(() => void this.sampleNow(), this.#intervalMs);
    this.#timer.unref();
  }

  close(): Promise<void> {
    clearInterval(this.#timer);
    return this.#sampling ?? Promise.resolve();
  }

  /** Takes a sample now (after an action, so the page shows its effect at once). */
  sampleNow(): Promise<void> {
    this.#sampling ??= this.#sample().finally(() => {
      this.#sampling = undefined;
    });
    return this.#sampling;
  }

  /** The latest reading, if any sample succeeded. */
  get latest(): QueueReading | undefined {
    return this.#readings.at(-1);
  }

  /** Why the last sample failed; undefined when it succeeded. */
  get error(): string | undefined {
    return this.#error;
  }

  /**
   * How much a queue's depth changed over the last minute (or since the first sample, when the
   * console is younger): new depth minus the depth then.
   */
  changeLastMinute(queue: string, now: number): number | undefined {
    const earlier = this.#readings.find((reading) => reading.at >= now - 60_000);
    const before = this.#depth(earlier, queue);
    const latest = this.#depth(this.#readings.at(-1), queue);
    if (latest === undefined || before === undefined) return undefined;
    return latest.messages - before.messages;
  }

  /**
   * The summed depth of the queues of one role at each of `ends` (the last reading at or before
   * each time, and no older than two sampling intervals); null where none.
   */
  depthAt(role: QueueSample['role'], ends: readonly number[]): (number | null)[] {
    return ends.map((end) => {
      let found: QueueReading | undefined;
      for (const reading of this.#readings) {
        if (reading.at > end) break;
        found = reading;
      }
      if (found === undefined || end - found.at > 2 * this.#intervalMs + 1000) return null;
      return found.queues
        .filter((queue) => queue.role === role)
        .reduce((sum, queue) => sum + queue.messages, 0);
    });
  }

  #depth(reading: QueueReading | undefined, queue: string): QueueSample | undefined {
    return reading?.queues.find((sample) => sample.queue === queue);
  }

  async #sample(): Promise<void> {
    try {
      const queues = await this.#options.sample();
      const at = this.#now();
      this.#readings.push({ at, queues });
      while ((this.#readings[0]?.at ?? at) < at - this.#historyMs) this.#readings.shift();
      this.#error = undefined;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (this.#error !== message) this.#logger.warn('queue sample failed', { error: err });
      this.#error = message;
    }
  }
}
