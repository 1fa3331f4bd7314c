import type { S3Client } from '@aws-sdk/client-s3';
import type { Config, Logger, RelayError } from '@s3relay/core';
import {
  BUCKET_PLACEHOLDER,
  backupBucket,
  checkBucket,
  createS3Client,
  isBucketRefusal,
  type BucketTarget,
} from '@s3relay/core/s3';

/** How long a health answer is trusted before the next probe starts another check. */
export const S3_HEALTH_MAX_AGE_MS = 5000;
/** Waits between startup checks of an S3 side that does not answer: doubling up to the last. */
const RETRY_DELAYS_MS = [500, 1000, 2000, 5000];

/**
 * The buckets a worker uses that its configuration names: every `SOURCE_BUCKETS` entry, and
 * (when it replicates) `DEST_BUCKET`, expanded for each source bucket when it holds `{bucket}`.
 * With `SOURCE_BUCKETS` empty the source buckets are known only from the tasks, so none of
 * them is checked, nor a `{bucket}` backup.
 */
export function bucketTargets(config: Config): BucketTarget[] {
  const { source, dest, worker } = config;
  const targets: BucketTarget[] = source.buckets.map((bucket) => ({
    side: 'source',
    bucket,
    variable: 'SOURCE_BUCKETS',
    endpoint: source,
  }));
  if (worker.action !== 'replicate') return targets;
  const backups = dest.bucket.includes(BUCKET_PLACEHOLDER)
    ? source.buckets.map((bucket) => backupBucket(dest, bucket))
    : [dest.bucket];
  for (const bucket of new Set(backups)) {
    targets.push({ side: 'backup', bucket, variable: 'DEST_BUCKET', endpoint: dest });
  }
  return targets;
}

export interface S3HealthOptions {
  readonly targets: readonly BucketTarget[];
  readonly logger: Logger;
  /** @default S3_HEALTH_MAX_AGE_MS */
  readonly maxAgeMs?: number;
}

/**
 * Whether the worker can use both S3 sides: the startup preflight, and the S3 half of `/readyz`.
 *
 * At startup ({@link S3Health.untilUsable}) a side that refuses its bucket (credentials,
 * permissions, a missing bucket, an endpoint that is not S3) fails the start, since no task
 * could succeed; one that does not answer is checked again until it does, with one log line per
 * distinct error. Later, {@link S3Health.isHealthy} answers from the last check and starts
 * another when that one is older than `maxAgeMs`, so probes stay cheap: one listing per bucket
 * every few seconds at most, on clients of its own with short timeouts and no retries.
 */
export class S3Health {
  readonly #targets: readonly BucketTarget[];
  readonly #logger: Logger;
  readonly #maxAgeMs: number;
  readonly #clients = new Map<BucketTarget['side'], S3Client>();
  readonly #abort = new AbortController();
  #healthy = true;
  #checkedAt = -Infinity;
  #checking: Promise<void> | undefined;

  constructor(options: S3HealthOptions) {
    this.#targets = options.targets;
    this.#logger = options.logger;
    this.#maxAgeMs = options.maxAgeMs ?? S3_HEALTH_MAX_AGE_MS;
    for (const target of options.targets) {
      if (this.#clients.has(target.side)) continue;
      this.#clients.set(
        target.side,
        createS3Client(target.endpoint, {
          maxAttempts: 1,
          maxSockets: 4,
          connectionTimeoutMs: 3000,
          requestTimeoutMs: 5000,
        }),
      );
    }
  }

  /**
   * Resolves once every bucket answers; rejects with the first refusal, or when closed. Logs
   * each distinct failure of a side that does not answer once, and when it answers again.
   */
  async untilUsable(): Promise<void> {
    const reported = new Set<string>();
    for (let attempt = 0; ; attempt += 1) {
      const failure = await this.#checkAll();
      if (failure === undefined) {
        if (reported.size > 0) this.#logger.info('S3 answers; starting');
        return;
      }
      if (isBucketRefusal(failure) || this.#abort.signal.aborted) throw failure;
      if (!reported.has(failure.message)) {
        reported.add(failure.message);
        this.#logger.warn('S3 not reachable at startup; checking again until it is', {
          error: failure.message,
          code: failure.code,
        });
      }
      const delayMs = RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)] ?? 0;
      await this.#sleep(delayMs);
      if (this.#abort.signal.aborted) throw failure;
    }
  }

  /** The last check's answer; a stale one starts another check in the background. */
  get isHealthy(): boolean {
    if (performance.now() - this.#checkedAt > this.#maxAgeMs) this.#refresh();
    return this.#healthy;
  }

  /** Stops checking and closes the clients; idempotent. */
  close(): void {
    this.#abort.abort();
    for (const client of this.#clients.values()) client.destroy();
    this.#clients.clear();
  }

  #refresh(): void {
    if (this.#checking !== undefined) return;
    const wasHealthy = this.#healthy;
    this.#checking = this.#checkAll()
      .then((failure) => {
        if (failure === undefined && !wasHealthy) {
          this.#logger.info('S3 answers again; ready');
        } else if (failure !== undefined && wasHealthy) {
          this.#logger.warn('S3 check failed; not ready until it passes', {
            error: failure.message,
            code: failure.code,
          });
        }
      })
      .finally(() => {
        this.#checking = undefined;
      });
  }

  /** One listing per bucket, in turn; the first failure, or undefined when all pass. */
  async #checkAll(): Promise<RelayError | undefined> {
    let failure: RelayError | undefined;
    for (const target of this.#targets) {
      const client = this.#clients.get(target.side);
      if (client === undefined) break;
      try {
        await checkBucket(client, target, this.#abort.signal);
      } catch (err) {
        // checkBucket throws nothing else.
        failure = err as RelayError;
        break;
      }
    }
    this.#healthy = failure === undefined;
    this.#checkedAt = performance.now();
    return failure;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.#abort.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
