/**
 * How long a failed check of a backup bucket stands: tasks of that bucket fail with its error
 * meanwhile, without asking S3, and the next one after checks again.
 */
export const FAILED_CHECK_MAX_AGE_MS = 5000;

export interface BackupBucketCheckOptions {
  /**
   * Checks one backup bucket (`checkBucket` of `@s3relay/core/s3`: a listing of one key), throwing
   * a `RelayError` that names the bucket, the variable and what to check.
   */
  readonly check: (bucket: string) => Promise<void>;
  /** Buckets the startup preflight checked, and `/readyz` keeps checking: never checked here. */
  readonly checkedAtStart: Iterable<string>;
  /** @default FAILED_CHECK_MAX_AGE_MS */
  readonly failedMaxAgeMs?: number;
  /** @default performance.now */
  readonly now?: () => number;
}

interface Check {
  readonly result: Promise<void>;
  /** When it failed; undefined while it runs or once it passed. */
  failedAt?: number;
}

/**
 * Checks a backup bucket the startup preflight could not name (`DEST_BUCKET` with `{bucket}` and
 * `SOURCE_BUCKETS` empty: the source buckets are known only from the tasks) before its first task
 * writes to it, so that a missing or refused backup bucket fails each task with an error that
 * names it rather than with S3's bare `NoSuchBucket` after a GET of the source. A bucket that
 * passed is not checked again in this process (a bucket deleted later fails the writes as
 * before); tasks arriving during a check wait for that one check.
 */
export class BackupBucketCheck {
  readonly #check: (bucket: string) => Promise<void>;
  readonly #failedMaxAgeMs: number;
  readonly #now: () => number;
  readonly #checks = new Map<string, Check>();

  constructor(options: BackupBucketCheckOptions) {
    this.#check = options.check;
    this.#failedMaxAgeMs = options.failedMaxAgeMs ?? FAILED_CHECK_MAX_AGE_MS;
    this.#now = options.now ?? (() => performance.now());
    for (const bucket of options.checkedAtStart) {
      this.#checks.set(bucket, { result: Promise.resolve() });
    }
  }

  /** Resolves when `bucket` can be used; rejects with the check's error otherwise. */
  ensure(bucket: string): Promise<void> {
    const known = this.#checks.get(bucket);
    if (
      known !== undefined &&
      (known.failedAt === undefined || this.#now() - known.failedAt < this.#failedMaxAgeMs)
    ) {
      return known.result;
    }
    const check: Check = { result: this.#check(bucket) };
    check.result.catch(() => {
      check.failedAt = this.#now();
    });
    this.#checks.set(bucket, check);
    return check.result;
  }
}
