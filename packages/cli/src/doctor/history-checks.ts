import {
  GetBucketLifecycleConfigurationCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  type LifecycleRule,
  type S3Client,
} from '@aws-sdk/client-s3';
import { versioningStatus } from '../history/versioning.js';
import { ok, problem, s3Code, s3Reason, warning, type Finding } from './finding.js';

/** The id of the lifecycle rule `doctor --fix` writes (and replaces on a later fix). */
export const HISTORY_RULE_ID = 's3relay-history';

export interface HistoryTarget {
  readonly client: S3Client;
  readonly bucket: string;
  /** DEST_PREFIX: the rule covers the backup keys only. */
  readonly prefix: string;
  readonly retentionDays: number;
  readonly fix: boolean;
}

/** Versioning on the backup bucket: the basis of `restore`. */
export async function checkVersioning(target: HistoryTarget): Promise<Finding> {
  const check = 'backup keeps history (versioning)';
  const status = await versioningStatus(target.client, target.bucket);
  if (status === 'Enabled') return ok(check, `versioning is on for ${target.bucket}`);
  const detail =
    status === 'Suspended'
      ? `versioning of ${target.bucket} is suspended: overwrites replace objects`
      : `${target.bucket} is not versioned: overwrites and deletes replace the only copy, nothing can be restored`;
  if (!target.fix) return problem(check, detail, 's3relay doctor --fix turns versioning on');
  await target.client.send(
    new PutBucketVersioningCommand({
      Bucket: target.bucket,
      VersioningConfiguration: { Status: 'Enabled' },
    }),
  );
  return { check, status: 'fixed', detail: `${detail}; versioning turned on`, fix: '' };
}

/**
 * A lifecycle rule that expires noncurrent versions after the retention (history would
 * otherwise grow for ever) and aborts multipart uploads left open. `--fix` adds the rule
 * `s3relay-history` and keeps every other rule as it was.
 */
export async function checkLifecycle(target: HistoryTarget): Promise<Finding> {
  const check = 'old versions expire (lifecycle)';
  const rules = await lifecycleRules(target);
  const expiring = rules.filter(
    (rule) =>
      rule.Status === 'Enabled' &&
      rule.NoncurrentVersionExpiration?.NoncurrentDays !== undefined &&
      covers(rule, target.prefix),
  );
  const days = expiring.map((rule) => rule.NoncurrentVersionExpiration?.NoncurrentDays ?? 0);
  const kept = days.length === 0 ? undefined : Math.min(...days);
  const wanted = `noncurrent versions expire after ${target.retentionDays} days`;
  if (kept !== undefined && kept >= target.retentionDays) {
    return ok(check, `noncurrent versions of ${target.bucket} expire after ${kept} days`);
  }
  const detail =
    kept === undefined
      ? `no lifecycle rule of ${target.bucket} expires noncurrent versions: history grows for ever`
      : `noncurrent versions expire after ${kept} days, less than the ${target.retentionDays} days of retention`;
  if (!target.fix) {
    const fix = `s3relay doctor --fix adds rule ${HISTORY_RULE_ID}: ${wanted}`;
    return kept === undefined ? problem(check, detail, fix) : warning(check, detail, fix);
  }
  const ours: LifecycleRule = {
    ID: HISTORY_RULE_ID,
    Status: 'Enabled',
    Filter: { Prefix: target.prefix },
    NoncurrentVersionExpiration: { NoncurrentDays: target.retentionDays },
    AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
  };
  const others = rules.filter((rule) => rule.ID !== HISTORY_RULE_ID).map(withFilter);
  await target.client.send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: target.bucket,
      LifecycleConfiguration: { Rules: [...others, ours] },
    }),
  );
  return {
    check,
    status: 'fixed',
    detail: `${detail}; rule ${HISTORY_RULE_ID} added: ${wanted}`,
    fix: '',
  };
}

async function lifecycleRules(target: HistoryTarget): Promise<LifecycleRule[]> {
  try {
    const answer = await target.client.send(
      new GetBucketLifecycleConfigurationCommand({ Bucket: target.bucket }),
    );
    return answer.Rules ?? [];
  } catch (err) {
    if (s3Code(err) === 'NoSuchLifecycleConfiguration') return [];
    throw new Error(`cannot read the lifecycle of ${target.bucket}: ${s3Reason(err)}`, {
      cause: err,
    });
  }
}

/**
 * True when a rule applies to every key under `prefix`: a plain prefix filter (Ceph answers with
 * the legacy top-level `Prefix`) that `prefix` starts with; not a filter by tags or sizes.
 */
function covers(rule: LifecycleRule, prefix: string): boolean {
  const filter = rule.Filter;
  if (filter?.Tag !== undefined || filter?.And !== undefined) return false;
  if (filter?.ObjectSizeGreaterThan !== undefined || filter?.ObjectSizeLessThan !== undefined) {
    return false;
  }
  return prefix.startsWith(filter?.Prefix ?? rule.Prefix ?? '');
}

/** A rule as it may be sent back: the legacy `Prefix` as a filter (they cannot be mixed). */
function withFilter(rule: LifecycleRule): LifecycleRule {
  if (rule.Prefix === undefined) return rule;
  const { Prefix: prefix, ...rest } = rule;
  return { ...rest, Filter: rest.Filter ?? { Prefix: prefix } };
}
