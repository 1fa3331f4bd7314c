import { ConfigError, redactUrl, type Logger } from '@s3relay/core';
import type { VkEventRecord } from './records.js';
import type { WebhookPoster } from './webhook-client.js';

/** How events are pushed to webhooks: a real provider's defaults, plus knobs for tests. */
export interface DeliveryOptions {
  /** Records per POST. @default 1 */
  readonly batchSize?: number;
  /** POSTs in flight per webhook URL. @default 8 */
  readonly concurrency?: number;
  /** A POST (event or handshake) without a complete answer by then has failed. @default 5000 */
  readonly requestTimeoutMs?: number;
  /** Delay before the first retry; doubled for each further one. @default 1000 */
  readonly initialDelayMs?: number;
  /** Upper bound of the retry delay. @default 30000 */
  readonly maxDelayMs?: number;
  /** Give a record up after this many attempts. @default Infinity (only `maxAgeMs` applies) */
  readonly maxAttempts?: number;
  /** Give a record up when its next attempt would come later than this after it was queued. @default 600000 */
  readonly maxAgeMs?: number;
  /** Probability (0..1) that a record is queued twice, to exercise duplicate handling. @default 0 */
  readonly duplicateRate?: number;
  /** Hold each new record for a random time below this before it may be sent, so records overtake one another. @default 0 */
  readonly reorderWindowMs?: number;
  /** The random source of `duplicateRate` and `reorderWindowMs`, in [0, 1). @default Math.random */
  readonly random?: () => number;
}

/** Counters of the delivery queue, all in records (not POSTs). */
export interface DeliveryStats {
  /** Waiting to be sent: new, held back for reordering, or waiting for a retry. */
  readonly queued: number;
  /** Acknowledged by the receiver with a 2xx (a duplicate counts again). */
  readonly delivered: number;
  /** Failed attempts that were scheduled again. */
  readonly retried: number;
  /** Given up after `maxAttempts` or `maxAgeMs`. */
  readonly dropped: number;
  /** In a POST that has not been answered yet. */
  readonly inFlight: number;
}

/** One POST to a webhook, as kept in the delivery log. */
export interface DeliveryAttempt {
  /** ISO 8601, when the answer (or the failure) came. */
  readonly at: string;
  readonly url: string;
  /** `s3:` event names and decoded keys of the records, in the order sent. */
  readonly records: readonly { readonly eventName: string; readonly key: string }[];
  /** The highest attempt number among the records (1 = first try). */
  readonly attempt: number;
  /** The HTTP status, or null when there was none (network error, timeout). */
  readonly status: number | null;
  /** Why the attempt failed, or null when it was delivered. */
  readonly error: string | null;
}

/** How many attempts {@link DeliveryQueue.deliveries} keeps (the most recent). */
export const DELIVERY_LOG_LIMIT = 1000;

interface Job {
  readonly url: string;
  readonly record: VkEventRecord;
  /** The decoded key, for the log. */
  readonly key: string;
  readonly queuedAt: number;
  attempts: number;
}

interface Lane {
  readonly ready: Job[];
  inFlight: number;
}

interface IdleWaiter {
  resolve(): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
}

/** {@link DeliveryOptions} with every default applied. */
export type CompiledDeliveryOptions = Required<DeliveryOptions>;

/** The defaults of {@link DeliveryOptions}. */
export const DEFAULT_DELIVERY_OPTIONS: Readonly<CompiledDeliveryOptions> = {
  batchSize: 1,
  concurrency: 8,
  requestTimeoutMs: 5000,
  initialDelayMs: 1000,
  maxDelayMs: 30_000,
  maxAttempts: Number.POSITIVE_INFINITY,
  maxAgeMs: 600_000,
  duplicateRate: 0,
  reorderWindowMs: 0,
  random: Math.random,
};

/**
 * Applies the defaults to `options` and checks them.
 * Thrown ({@link ConfigError}) when a value is out of range; the message lists every problem.
 */
export function compileDeliveryOptions(options: DeliveryOptions = {}): CompiledDeliveryOptions {
  // An option given as `undefined` takes its default, as if it were absent.
  const given = Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as DeliveryOptions;
  const compiled: CompiledDeliveryOptions = { ...DEFAULT_DELIVERY_OPTIONS, ...given };
  const problems: string[] = [];
  const check = (ok: boolean, problem: string) => {
    if (!ok) problems.push(problem);
  };
  check(
    Number.isInteger(compiled.batchSize) && compiled.batchSize >= 1,
    'batchSize must be an integer >= 1',
  );
  check(
    Number.isInteger(compiled.concurrency) && compiled.concurrency >= 1,
    'concurrency must be an integer >= 1',
  );
  check(compiled.requestTimeoutMs > 0, 'requestTimeoutMs must be > 0');
  check(compiled.initialDelayMs >= 0, 'initialDelayMs must be >= 0');
  check(compiled.maxDelayMs >= compiled.initialDelayMs, 'maxDelayMs must be >= initialDelayMs');
  check(compiled.maxAttempts >= 1, 'maxAttempts must be >= 1');
  check(compiled.maxAgeMs >= 0, 'maxAgeMs must be >= 0');
  check(
    compiled.duplicateRate >= 0 && compiled.duplicateRate <= 1,
    'duplicateRate must be within 0..1',
  );
  check(compiled.reorderWindowMs >= 0, 'reorderWindowMs must be >= 0');
  if (problems.length > 0) {
    throw new ConfigError(`invalid emulator delivery options: ${problems.join('; ')}`);
  }
  return compiled;
}

/**
 * At-least-once delivery of event records to webhook URLs, in memory: one lane per URL with its
 * own concurrency, so a receiver that is down delays only its own records. A failed POST (non-2xx,
 * network error, timeout) is retried per record with exponential backoff until it succeeds or is
 * given up. Records are independent, so a retried record can be overtaken by later ones, as with
 * real providers.
 */
export class DeliveryQueue {
  readonly #options: CompiledDeliveryOptions;
  readonly #poster: WebhookPoster;
  readonly #logger: Logger;
  readonly #lanes = new Map<string, Lane>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #waiters = new Set<IdleWaiter>();
  readonly #log: DeliveryAttempt[] = [];
  #queued = 0;
  #inFlight = 0;
  #delivered = 0;
  #retried = 0;
  #dropped = 0;
  #closed = false;

  constructor(options: CompiledDeliveryOptions, poster: WebhookPoster, logger: Logger) {
    this.#options = options;
    this.#poster = poster;
    this.#logger = logger;
  }

  /** Queues one record for `url` (twice, now and then, with `duplicateRate`). */
  enqueue(url: string, record: VkEventRecord, key: string): void {
    if (this.#closed) return;
    const { duplicateRate, reorderWindowMs, random } = this.#options;
    const copies = duplicateRate > 0 && random() < duplicateRate ? 2 : 1;
    for (let copy = 0; copy < copies; copy += 1) {
      const job: Job = { url, record, key, queuedAt: Date.now(), attempts: 0 };
      this.#queued += 1;
      const holdMs = reorderWindowMs > 0 ? reorderWindowMs * random() : 0;
      if (holdMs > 0) this.#later(job, holdMs);
      else this.#ready(job);
    }
  }

  stats(): DeliveryStats {
    return {
      queued: this.#queued,
      delivered: this.#delivered,
      retried: this.#retried,
      dropped: this.#dropped,
      inFlight: this.#inFlight,
    };
  }

  /** The most recent POSTs, oldest first (at most {@link DELIVERY_LOG_LIMIT}). */
  deliveries(): readonly DeliveryAttempt[] {
    return [...this.#log];
  }

  /**
   * Resolves when nothing is queued or in flight. Rejects after `timeoutMs` (when given) with the
   * counters in the message, and when the queue is closed first.
   */
  idle(timeoutMs?: number): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    if (this.#closed) return Promise.reject(new Error('the delivery queue is closed'));
    return new Promise((resolve, reject) => {
      const waiter: IdleWaiter = { resolve, reject, timer: undefined };
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(
            new Error(
              `webhook deliveries not finished within ${timeoutMs} ms: ${JSON.stringify(this.stats())}`,
            ),
          );
        }, timeoutMs);
      }
      this.#waiters.add(waiter);
    });
  }

  /** Stops everything: cancels timers, forgets queued records, fails `idle()` waiters. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error('the delivery queue is closed'));
    }
    this.#waiters.clear();
  }

  #lane(url: string): Lane {
    let lane = this.#lanes.get(url);
    if (lane === undefined) {
      lane = { ready: [], inFlight: 0 };
      this.#lanes.set(url, lane);
    }
    return lane;
  }

  #ready(job: Job): void {
    const lane = this.#lane(job.url);
    lane.ready.push(job);
    this.#pump(job.url, lane);
  }

  #later(job: Job, delayMs: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#ready(job);
    }, delayMs);
    this.#timers.add(timer);
  }

  #pump(url: string, lane: Lane): void {
    while (!this.#closed && lane.inFlight < this.#options.concurrency && lane.ready.length > 0) {
      const batch = lane.ready.splice(0, this.#options.batchSize);
      lane.inFlight += 1;
      this.#queued -= batch.length;
      this.#inFlight += batch.length;
      void this.#send(url, lane, batch);
    }
  }

  async #send(url: string, lane: Lane, batch: Job[]): Promise<void> {
    for (const job of batch) job.attempts += 1;
    const body = JSON.stringify({ Records: batch.map((job) => job.record) });
    let status: number | null = null;
    let error: string | null = null;
    try {
      ({ status } = await this.#poster.post(url, body, this.#options.requestTimeoutMs));
      if (status < 200 || status > 299) error = `HTTP ${status}`;
    } catch (err: unknown) {
      error = err instanceof Error ? err.message : String(err);
    }
    lane.inFlight -= 1;
    this.#inFlight -= batch.length;
    if (this.#closed) return;
    this.#record(url, batch, status, error);
    if (error === null) {
      this.#delivered += batch.length;
      this.#logger.debug('webhook delivered', {
        url: redactUrl(url),
        records: batch.length,
        status,
      });
    } else {
      for (const job of batch) this.#retryOrDrop(job, error);
    }
    this.#pump(url, lane);
    this.#settleIdle();
  }

  #retryOrDrop(job: Job, error: string): void {
    const { initialDelayMs, maxDelayMs, maxAttempts, maxAgeMs } = this.#options;
    const delayMs = Math.min(initialDelayMs * 2 ** (job.attempts - 1), maxDelayMs);
    const meta = { url: redactUrl(job.url), key: job.key, attempt: job.attempts, error };
    if (job.attempts >= maxAttempts || Date.now() + delayMs - job.queuedAt > maxAgeMs) {
      this.#dropped += 1;
      this.#logger.error('webhook delivery given up', meta);
      return;
    }
    this.#retried += 1;
    this.#queued += 1;
    this.#logger.warn('webhook delivery failed, will retry', { ...meta, retryInMs: delayMs });
    this.#later(job, delayMs);
  }

  #record(url: string, batch: readonly Job[], status: number | null, error: string | null): void {
    this.#log.push({
      at: new Date().toISOString(),
      url,
      records: batch.map((job) => ({ eventName: job.record.eventName, key: job.key })),
      attempt: Math.max(...batch.map((job) => job.attempts)),
      status,
      error,
    });
    if (this.#log.length > DELIVERY_LOG_LIMIT) this.#log.shift();
  }

  #isIdle(): boolean {
    return this.#queued === 0 && this.#inFlight === 0;
  }

  #settleIdle(): void {
    if (!this.#isIdle()) return;
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    this.#waiters.clear();
  }
}
