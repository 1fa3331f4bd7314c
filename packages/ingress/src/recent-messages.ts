export interface RecentMessagesOptions {
  /** How long a published MessageId is remembered (the replay window: older ones are refused). */
  readonly ttlMs: number;
  /** At most this many ids are remembered; the oldest are forgotten first. */
  readonly maxEntries: number;
  readonly now: () => Date;
}

/**
 * Publishes each SNS MessageId once while it is remembered. SNS redelivers with the same
 * MessageId, so a message that was already published is acknowledged without publishing again.
 * An id is remembered only after its publish succeeded, so a failed publish stays retryable; a
 * delivery that arrives while the same id is being published waits for that publish and shares
 * its outcome. In memory and per process: a duplicate reaching another replica, or arriving after
 * a restart, is published again (harmless, the worker reconciles).
 */
export class RecentMessages {
  readonly #options: RecentMessagesOptions;
  /** id → when it expires (ms); insertion order is age order, as every entry has the same TTL. */
  readonly #published = new Map<string, number>();
  readonly #running = new Map<string, Promise<unknown>>();

  constructor(options: RecentMessagesOptions) {
    this.#options = options;
  }

  /** Ids remembered now. */
  get size(): number {
    this.#prune();
    return this.#published.size;
  }

  /**
   * Runs `publish` unless `id` was published recently, and returns its result, or `duplicate`
   * when it did not run. Rejects as `publish` (or the same id's running publish) rejects.
   */
  async publishOnce<T>(
    id: string,
    publish: () => Promise<T>,
  ): Promise<{ readonly duplicate: true } | { readonly duplicate: false; readonly value: T }> {
    this.#prune();
    if (this.#published.has(id)) return { duplicate: true };
    const running = this.#running.get(id);
    if (running !== undefined) {
      await running;
      return { duplicate: true };
    }
    const work = publish();
    this.#running.set(id, work);
    let value: T;
    try {
      value = await work;
    } finally {
      this.#running.delete(id);
    }
    this.#remember(id);
    return { duplicate: false, value };
  }

  #remember(id: string): void {
    this.#published.delete(id);
    this.#published.set(id, this.#options.now().getTime() + this.#options.ttlMs);
    while (this.#published.size > this.#options.maxEntries) {
      const oldest = this.#published.keys().next().value;
      if (oldest === undefined) break;
      this.#published.delete(oldest);
    }
  }

  #prune(): void {
    const now = this.#options.now().getTime();
    for (const [id, expiresAt] of this.#published) {
      if (expiresAt > now) break;
      this.#published.delete(id);
    }
  }
}
