import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { ErrorContext } from '@s3relay/core';
import { assertListingOf, classifySourceError } from '@s3relay/core/s3';

/** How long a proof that a source bucket exists is trusted. */
export const BUCKET_PROOF_TTL_MS = 60_000;

/**
 * Proof that a source bucket exists, asked for before a backup object is deleted, in addition to
 * the GET's `NoSuchKey`. It is S3's listing of the bucket (one key) naming the bucket: unlike a
 * HeadBucket, whose 200 any web server or proxy gives, a listing is XML only S3 produces. A
 * proof is kept for {@link BUCKET_PROOF_TTL_MS}, so a burst of deletes costs one listing; a
 * failure is not kept, and concurrent askers share one listing.
 */
export class SourceBucketProof {
  readonly #source: S3Client;
  readonly #ttlMs: number;
  readonly #provenAt = new Map<string, number>();
  readonly #listing = new Map<string, Promise<void>>();

  constructor(source: S3Client, ttlMs = BUCKET_PROOF_TTL_MS) {
    this.#source = source;
    this.#ttlMs = ttlMs;
  }

  /** Resolves once `bucket` is proven to exist; throws the source's error otherwise. */
  async assertExists(bucket: string, signal: AbortSignal, context: ErrorContext): Promise<void> {
    const provenAt = this.#provenAt.get(bucket);
    if (provenAt !== undefined && performance.now() - provenAt < this.#ttlMs) return;
    let listing = this.#listing.get(bucket);
    if (listing === undefined) {
      listing = this.#list(bucket, context).finally(() => this.#listing.delete(bucket));
      this.#listing.set(bucket, listing);
    }
    await untilAborted(listing, signal);
  }

  async #list(bucket: string, context: ErrorContext): Promise<void> {
    let listing;
    try {
      listing = await this.#source.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1 }));
    } catch (err) {
      throw classifySourceError(err, { ...context, bucket });
    }
    assertListingOf(listing, bucket, context);
    this.#provenAt.set(bucket, performance.now());
  }
}

/** `promise`, or the signal's reason once aborted (the shared listing goes on for others). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
