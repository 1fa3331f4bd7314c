/**
 * What `resync` does with extra backup objects (in the backup, not in the source), decided once
 * the whole listing has been compared. Deleting them takes `--delete`, and even then an empty
 * source listing beside a non-empty backup (a wrong endpoint, account or bucket looks exactly
 * like that) and more extras than `--max-delete` are refused: a resync must not be able to wipe
 * the backup by mistake.
 */

/** Extras deleted unless `--max-delete` says otherwise: the default DELETE_LIMIT's count. */
export const DEFAULT_MAX_DELETE = 1000;

export interface ExtrasInput {
  readonly extras: number;
  /** Objects the source listed (equal, missing and different keys). */
  readonly sourceObjects: number;
  readonly wantDelete: boolean;
  readonly maxDelete: number | 'all';
  readonly allowEmptySource: boolean;
  /** Where: `bucket "b"` plus the prefix, and the backup bucket, for the messages. */
  readonly sourceBucket: string;
  readonly prefix: string;
  readonly backupBucket: string;
}

export type ExtrasDecision =
  | { readonly action: 'delete' }
  | { readonly action: 'report' }
  | { readonly action: 'refuse'; readonly reason: string };

export function decideExtras(input: ExtrasInput): ExtrasDecision {
  if (input.extras === 0 || !input.wantDelete) return { action: 'report' };
  const where = `bucket "${input.sourceBucket}"${input.prefix === '' ? '' : ` under "${input.prefix}"`}`;
  if (input.sourceObjects === 0 && !input.allowEmptySource) {
    return {
      action: 'refuse',
      reason:
        `refusing to delete: the source listing of ${where} is empty while the backup ` +
        `"${input.backupBucket}" holds ${input.extras} objects there — a wrong SOURCE_S3_ENDPOINT, ` +
        'account or bucket looks exactly like this. Nothing was deleted. If the source really is ' +
        'empty, pass --allow-empty-source',
    };
  }
  if (input.maxDelete !== 'all' && input.extras > input.maxDelete) {
    return {
      action: 'refuse',
      reason:
        `refusing to delete ${input.extras} extra backup objects of ${where}: more than ` +
        `--max-delete ${input.maxDelete}. Nothing was deleted. Look at them first (--dry-run ` +
        `lists them), then pass --max-delete ${input.extras} (or all) to delete them`,
    };
  }
  return { action: 'delete' };
}
