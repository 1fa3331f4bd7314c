import { forEachConcurrent } from '../concurrency.js';
import type { KeyComparison, KeyStatus } from './compare.js';
import { compareOn, pairs, type Sides } from './s3-sides.js';

export type ScanCounts = Record<KeyStatus, number> & { compared: number };

export interface ScanOptions {
  readonly prefix: string;
  readonly deep: boolean;
  /** Compare the tags of keys that are otherwise equal. */
  readonly tags: boolean;
  readonly concurrency: number;
  readonly signal?: AbortSignal;
  /** Called for every key, in any order; awaited (back-pressure for the caller's own work). */
  readonly onKey: (comparison: KeyComparison) => Promise<void>;
  readonly onProgress?: (counts: ScanCounts) => void;
}

/** Compares every key of a source bucket (under a prefix) with its backup. */
export async function scanBucket(sides: Sides, options: ScanOptions): Promise<ScanCounts> {
  const counts: ScanCounts = { compared: 0, equal: 0, missing: 0, extra: 0, different: 0 };
  await forEachConcurrent(
    pairs(sides, options.prefix, options.signal),
    options.concurrency,
    async (pair) => {
      const comparison = await compareOn(sides, pair, options, options.signal);
      counts.compared += 1;
      counts[comparison.status] += 1;
      await options.onKey(comparison);
      options.onProgress?.(counts);
    },
  );
  return counts;
}
