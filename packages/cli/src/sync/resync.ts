import { randomUUID } from 'node:crypto';
import { createTask, type Config, type TaskKind } from '@s3relay/core';
import type { Publisher } from '@s3relay/core/amqp';
import type { KeyComparison } from './compare.js';
import { openSides } from './s3-sides.js';
import { scanBucket, type ScanCounts } from './scan.js';
import { TaskBatcher } from './task-batcher.js';

export interface ResyncOptions {
  readonly bucket: string;
  readonly prefix: string;
  readonly concurrency: number;
  /** Also compare the tags of keys that are otherwise equal. */
  readonly tags: boolean;
  readonly dryRun: boolean;
  readonly onProgress?: (counts: ScanCounts) => void;
}

/** Where a resync enqueues its tasks (not needed for a dry run). */
export interface ResyncTarget {
  readonly publisher: Publisher;
  readonly queue: string;
}

export interface ResyncReport extends ScanCounts {
  readonly bucket: string;
  readonly prefix: string;
  readonly backupBucket: string;
  readonly dryRun: boolean;
  readonly enqueued: number;
  /** Extra backup objects left alone because REPLICATE_DELETES is off. */
  readonly extraLeftAlone: number;
  /** The first keys that differ, with how. */
  readonly differences: readonly KeyComparison[];
}

/** How many differing keys a report lists. */
const REPORTED_DIFFERENCES = 1000;

const KIND: Readonly<Record<Exclude<KeyComparison['status'], 'equal'>, TaskKind>> = {
  missing: 'created',
  different: 'created',
  extra: 'removed',
};

/**
 * Lists source and backup side by side and enqueues one task per key whose backup is missing,
 * stale or extra (extras only when REPLICATE_DELETES is on); the workers' reconcile does the rest.
 * A dry run compares and reports without enqueueing. S3 failures are thrown as the SDK threw them.
 */
export async function runResync(
  config: Config,
  options: ResyncOptions,
  target?: ResyncTarget,
): Promise<ResyncReport> {
  if (!options.dryRun && target === undefined) throw new Error('a resync needs a publisher');
  const sides = openSides(config, options.bucket, options.concurrency);
  const batcher =
    target === undefined || options.dryRun
      ? undefined
      : new TaskBatcher(target.publisher, target.queue);
  const runId = randomUUID();
  const differences: KeyComparison[] = [];
  try {
    const counts = await scanBucket(sides, {
      prefix: options.prefix,
      deep: false,
      tags: options.tags,
      concurrency: options.concurrency,
      onProgress: options.onProgress,
      onKey: async (comparison) => {
        if (comparison.status === 'equal') return;
        if (comparison.status === 'extra' && !config.worker.replicateDeletes) return;
        if (differences.length < REPORTED_DIFFERENCES) differences.push(comparison);
        await batcher?.add(
          createTask({
            origin: 'resync',
            eventName: `Resync:${comparison.status}`,
            kind: KIND[comparison.status],
            bucket: options.bucket,
            key: comparison.key,
            size: null,
            eTag: null,
            versionId: null,
            sequencer: runId,
            eventTime: null,
          }),
        );
      },
    });
    await batcher?.flush();
    return {
      ...counts,
      bucket: options.bucket,
      prefix: options.prefix,
      backupBucket: sides.backupBucket,
      dryRun: options.dryRun,
      enqueued: batcher?.published ?? 0,
      extraLeftAlone: config.worker.replicateDeletes ? 0 : counts.extra,
      differences,
    };
  } finally {
    sides.close();
  }
}
