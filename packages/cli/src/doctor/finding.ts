/** One thing `s3relay doctor` checked, and what to do about it. */
export interface Finding {
  readonly check: string;
  /** `fixed`: it was a problem and `--fix` repaired it. */
  readonly status: 'ok' | 'warning' | 'problem' | 'fixed';
  readonly detail: string;
  /** What the operator should do; empty when nothing. */
  readonly fix: string;
}

export function ok(check: string, detail: string): Finding {
  return { check, status: 'ok', detail, fix: '' };
}

export function warning(check: string, detail: string, fix: string): Finding {
  return { check, status: 'warning', detail, fix };
}

export function problem(check: string, detail: string, fix: string): Finding {
  return { check, status: 'problem', detail, fix };
}

/** A one-line description of an S3 failure for a finding. */
export function s3Reason(err: unknown): string {
  const { name, message, $metadata } = err as {
    name?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const status = $metadata?.httpStatusCode;
  return `${name ?? 'Error'}${status === undefined ? '' : ` (HTTP ${status})`}: ${message ?? String(err)}`;
}

/** The S3 error code of a failure, or '' for anything else. */
export function s3Code(err: unknown): string {
  return (err as { name?: string }).name ?? '';
}
