import { randomUUID } from 'node:crypto';
import {
  RECOPY_EVENT_NAME,
  createTask,
  deletesReplicated,
  type Config,
  type Task,
  type TaskKind,
} from '@s3relay/core';
import type { Publisher } from '@s3relay/core/amqp';
import type { KeyComparison } from './compare.js';
import { DEFAULT_MAX_DELETE, decideExtras, type ExtrasDecision } from './extras-decision.js';
import { KeySpool } from './key-spool.js';
import { openSides } from './s3-sides.js';
import { scanBucket, type ScanCounts } from './scan.js';
import { TaskBatcher } from './task-batcher.js';

export interface ResyncOptions {
  readonly bucket: string;
  readonly prefix: string;
  readonly concurrency: number;
  /** Also compare the tags of keys that are otherwise equal. */
  readonly tags: boolean;
  /**
   * Compare the bytes (SHA-256 of both sides) instead of the provenance metadata, and have the
   * workers re-copy keys whose bytes differ even though their metadata matches. @default false
   */
  readonly deep?: boolean;
  readonly dryRun: boolean;
  /** Enqueue deletes of extra backup objects too (see {@link decideExtras}). @default false */
  readonly delete?: boolean;
  /** With `delete`: refuse more extras than this. @default DEFAULT_MAX_DELETE */
  readonly maxDelete?: number | 'all';
  /** With `delete`: delete even when the source listing is empty. @default false */
  readonly allowEmptySource?: boolean;
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
  /** Copies of missing and different keys, enqueued (or, in a dry run, to enqueue). */
  readonly copies: number;
  /** Deletes of extra backup objects, enqueued (or, in a dry run, to enqueue). */
  readonly deletes: number;
  /** What became of the extras: deleted, only reported, or refused. */
  readonly extras: ExtrasDecision['action'];
  /** Why deleting the extras was refused (then `extras` is `refuse`). */
  readonly refusal: string | undefined;
  /** Extra backup objects not deleted (no `delete`, or refused). */
  readonly extraLeftAlone: number;
  /** True when the source listed nothing while the backup holds objects. */
  readonly sourceEmpty: boolean;
  /** The first keys that differ, with how. */
  readonly differences: readonly KeyComparison[];
}

/** How many differing keys a report lists. */
const REPORTED_DIFFERENCES = 1000;

/**
 * Lists source and backup side by side and enqueues a copy per key whose backup is missing or
 * stale (with `deep`: whose bytes differ); the workers' reconcile does the rest. Extra backup
 * objects are set aside (on disk) and only once the whole listing is compared does
 * {@link decideExtras} say whether their deletes are enqueued: never without `delete`, never
 * against an empty source listing, never more than `maxDelete`. A dry run compares and reports
 * without enqueueing. S3 failures are thrown as the SDK threw them.
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
  const spool = await KeySpool.create();
  const runId = randomUUID();
  const taskOf = (comparison: KeyComparison): Task => {
    const { status, key } = comparison;
    const kind: TaskKind = status === 'extra' ? 'removed' : 'created';
    return createTask({
      origin: 'resync',
      eventName: comparison.reason === 'content' ? RECOPY_EVENT_NAME : `Resync:${status}`,
      kind,
      bucket: options.bucket,
      key,
      size: null,
      eTag: null,
      versionId: null,
      sequencer: runId,
      eventTime: null,
    });
  };
  const differences: KeyComparison[] = [];
  try {
    const counts = await scanBucket(sides, {
      prefix: options.prefix,
      deep: options.deep === true,
      tags: options.tags,
      concurrency: options.concurrency,
      onProgress: options.onProgress,
      onKey: async (comparison) => {
        if (comparison.status === 'equal') return;
        if (differences.length < REPORTED_DIFFERENCES) differences.push(comparison);
        if (comparison.status === 'extra') await spool.add(comparison.key);
        else await batcher?.add(taskOf(comparison));
      },
    });
    const sourceObjects = counts.equal + counts.missing + counts.different;
    const decision = decideExtras({
      extras: counts.extra,
      sourceObjects,
      wantDelete: options.delete === true && deletesReplicated(config.worker),
      maxDelete: options.maxDelete ?? DEFAULT_MAX_DELETE,
      allowEmptySource: options.allowEmptySource === true,
      sourceBucket: options.bucket,
      prefix: options.prefix,
      backupBucket: sides.backupBucket,
    });
    if (decision.action === 'delete' && batcher !== undefined) {
      for await (const key of spool.keys()) await batcher.add(taskOf({ key, status: 'extra' }));
    }
    await batcher?.flush();
    const deletes = decision.action === 'delete' ? counts.extra : 0;
    return {
      ...counts,
      bucket: options.bucket,
      prefix: options.prefix,
      backupBucket: sides.backupBucket,
      dryRun: options.dryRun,
      enqueued: batcher?.published ?? 0,
      copies: counts.missing + counts.different,
      deletes,
      extras: decision.action,
      refusal: decision.action === 'refuse' ? decision.reason : undefined,
      extraLeftAlone: counts.extra - deletes,
      sourceEmpty: sourceObjects === 0 && counts.extra > 0,
      differences,
    };
  } finally {
    sides.close();
    await spool.close();
  }
}
