/**
 * The fault suite's verdict: what happened to every key the load touched, in the categories
 * Jepsen uses for queues. Pure (no I/O): the runner gathers the facts, this judges them.
 *
 * A key is *reflected* when the backup equals the source's final state for it: present with
 * equal bytes, or absent on both sides. Every key falls into exactly one category, tried in
 * this order:
 *
 * - `unexpected`: the backup holds a key the load never wrote to the source;
 * - `parked`: a task for the key is in the DLQ (it must be a deliberately poisoned key);
 * - `ok`: reflected;
 * - `wrong`: both sides hold the key, with different bytes, and the ingress acknowledged the
 *   event of the key's last change;
 * - `lost`: one side holds the key and the other does not, and the ingress acknowledged the
 *   event of the key's last change;
 * - `missed`: not reflected, but the event of the key's last change was never acknowledged (the
 *   sender gave up on it): only `s3relay resync` can heal that, so it counts as a failure too.
 *
 * Apart from the categories, which judge the end, `wiped` counts the backup's deletes that came
 * while the source held the key: the backup was without an object the source had, whatever
 * copied it back later. A delete rests on the source's NoSuchKey, read moments before; one that
 * reaches the backup when the source has held the key without a break for WIPE_GRACE_MS cannot.
 */

/**
 * How long the source must have held a key before a backup delete of it counts as a wipe: far
 * longer than a worker takes from the source's answer to its delete (milliseconds: the bucket
 * proof, the delete breaker's grant, the SDK's few quick retries), so that a delete racing a new
 * put of the key is not counted. Only the storms put a deleted key again; the other loads never
 * reuse one, so a slow grant while the broker is down cannot be mistaken for a wipe there.
 */
export const WIPE_GRACE_MS = 2000;

/** One change the load made to the source, in the order made (per key). */
export interface SourceWrite {
  readonly key: string;
  readonly kind: 'put' | 'delete';
  /** SHA-256 (hex) of the bytes written; puts only. */
  readonly sha256?: string;
  /** The ETag the source gave the object (unquoted MD5 hex); puts only. */
  readonly eTag?: string;
  /** Epoch ms when the request was sent: its event cannot be acknowledged before that. */
  readonly startedAt: number;
  /** Epoch ms when the source answered it: a put's object exists from then on. */
  readonly doneAt: number;
}

/** A DeleteObject the backup carried out (answered 2xx). */
export interface BackupDelete {
  readonly key: string;
  /** Epoch ms when the request reached the backup. */
  readonly at: number;
}

/** An event record the ingress answered 2xx for (each delivery counts, duplicates included). */
export interface AckedRecord {
  readonly key: string;
  readonly kind: 'created' | 'removed';
  /** Unquoted, from the record; created events only. */
  readonly eTag?: string;
  /** Epoch ms when the ingress answered. */
  readonly at: number;
}

/** A task found in the DLQ. */
export interface ParkedTask {
  readonly key: string;
  /** `x-s3relay-error-code`, or how the broker parked it. */
  readonly code: string;
}

export interface LedgerInput {
  readonly writes: readonly SourceWrite[];
  readonly acked: readonly AckedRecord[];
  /** The source's final state: key → SHA-256 of its bytes. */
  readonly source: ReadonlyMap<string, string>;
  /** The backup's final state: key → SHA-256 of its bytes. */
  readonly backup: ReadonlyMap<string, string>;
  readonly parked: readonly ParkedTask[];
  /** Keys made unreplicable on purpose: exactly these must be parked. */
  readonly poisoned: readonly string[];
  /** The error code a poisoned key must be parked with. */
  readonly poisonCode: string;
  /** Every delete the backup carried out, in any order. */
  readonly backupDeletes: readonly BackupDelete[];
}

export type Category = 'ok' | 'unexpected' | 'parked' | 'wrong' | 'lost' | 'missed';

/** One key's verdict, with what explains it. */
export interface KeyVerdict {
  readonly key: string;
  readonly category: Category;
  readonly source: string | undefined;
  readonly backup: string | undefined;
  /** For `wrong`: the backup holds bytes the load never wrote for this key (not just stale). */
  readonly corrupt?: boolean;
}

/** A backup delete of a key the source held, and since when it held it without a break. */
export interface Wipe {
  readonly key: string;
  readonly at: number;
  readonly heldSince: number;
}

export interface LedgerReport {
  /** Records the ingress acknowledged. */
  readonly acked: number;
  /** Keys judged. */
  readonly keys: number;
  readonly ok: number;
  readonly lost: readonly KeyVerdict[];
  readonly unexpected: readonly KeyVerdict[];
  readonly wrong: readonly KeyVerdict[];
  readonly missed: readonly KeyVerdict[];
  /** Backup deletes while the source held the key, in time order. */
  readonly wiped: readonly Wipe[];
  /** Backup deletes judged, wipes or not. */
  readonly backupDeletes: number;
  /** Distinct parked keys. */
  readonly parked: readonly string[];
  /** Parked keys that were not poisoned, with their codes. */
  readonly parkedUnexpectedly: readonly ParkedTask[];
  /** Poisoned keys not parked, or parked with another code. */
  readonly poisonNotParked: readonly string[];
  /** Empty when the ledger is clean; else one line per kind of problem. */
  readonly problems: readonly string[];
}

/** Judges every key; see the module comment for the categories. */
export function judge(input: LedgerInput): LedgerReport {
  const written = new Set(input.writes.map((write) => write.key));
  const lastWrite = new Map<string, SourceWrite>();
  for (const write of input.writes) lastWrite.set(write.key, write);
  const versions = new Map<string, Set<string>>();
  for (const write of input.writes) {
    if (write.sha256 === undefined) continue;
    const known = versions.get(write.key) ?? new Set<string>();
    known.add(write.sha256);
    versions.set(write.key, known);
  }
  const ackedByKey = new Map<string, AckedRecord[]>();
  for (const record of input.acked) {
    const list = ackedByKey.get(record.key) ?? [];
    list.push(record);
    ackedByKey.set(record.key, list);
  }
  const parkedCodes = new Map<string, Set<string>>();
  for (const task of input.parked) {
    const codes = parkedCodes.get(task.key) ?? new Set<string>();
    codes.add(task.code);
    parkedCodes.set(task.key, codes);
  }

  const universe = new Set<string>([
    ...written,
    ...input.source.keys(),
    ...input.backup.keys(),
    ...ackedByKey.keys(),
    ...parkedCodes.keys(),
  ]);
  const verdicts: KeyVerdict[] = [];
  for (const key of [...universe].sort()) {
    const source = input.source.get(key);
    const backup = input.backup.get(key);
    const base = { key, source, backup };
    if (backup !== undefined && !written.has(key)) {
      verdicts.push({ ...base, category: 'unexpected' });
    } else if (parkedCodes.has(key)) {
      verdicts.push({ ...base, category: 'parked' });
    } else if (source === backup) {
      verdicts.push({ ...base, category: 'ok' });
    } else if (!lastChangeAcked(lastWrite.get(key), ackedByKey.get(key) ?? [])) {
      verdicts.push({ ...base, category: 'missed' });
    } else if (source !== undefined && backup !== undefined) {
      const corrupt = !(versions.get(key)?.has(backup) ?? false);
      verdicts.push({ ...base, category: 'wrong', corrupt });
    } else {
      verdicts.push({ ...base, category: 'lost' });
    }
  }

  const poisoned = new Set(input.poisoned);
  const parkedUnexpectedly = input.parked.filter((task) => !poisoned.has(task.key));
  const poisonNotParked = input.poisoned.filter(
    (key) => !(parkedCodes.get(key)?.has(input.poisonCode) ?? false),
  );
  const of = (category: Category) => verdicts.filter((verdict) => verdict.category === category);
  const report = {
    acked: input.acked.length,
    keys: verdicts.length,
    ok: of('ok').length,
    lost: of('lost'),
    unexpected: of('unexpected'),
    wrong: of('wrong'),
    missed: of('missed'),
    wiped: wipes(input.writes, input.backupDeletes),
    backupDeletes: input.backupDeletes.length,
    parked: [...parkedCodes.keys()].sort(),
    parkedUnexpectedly,
    poisonNotParked,
  };
  return { ...report, problems: describeProblems(report) };
}

/**
 * The backup deletes that came while the source had held their key for WIPE_GRACE_MS or more:
 * since a put answered while the key was absent, until a later delete of it was sent.
 */
function wipes(writes: readonly SourceWrite[], deletes: readonly BackupDelete[]): readonly Wipe[] {
  const held = new Map<string, { since: number; until: number }[]>();
  const since = new Map<string, number>();
  for (const write of writes) {
    const from = since.get(write.key);
    if (write.kind === 'put') {
      // An overwrite keeps the object: the stretch goes on from the first put.
      if (from === undefined) since.set(write.key, write.doneAt);
      continue;
    }
    if (from === undefined) continue;
    const stretches = held.get(write.key) ?? [];
    stretches.push({ since: from, until: write.startedAt });
    held.set(write.key, stretches);
    since.delete(write.key);
  }
  for (const [key, from] of since) {
    const stretches = held.get(key) ?? [];
    stretches.push({ since: from, until: Infinity });
    held.set(key, stretches);
  }
  const found: Wipe[] = [];
  for (const { key, at } of deletes) {
    const stretch = held.get(key)?.find((s) => s.since <= at - WIPE_GRACE_MS && at < s.until);
    if (stretch !== undefined) found.push({ key, at, heldSince: stretch.since });
  }
  return found.sort((a, b) => a.at - b.at);
}

/**
 * True when the event of the key's last change was acknowledged: a created record with the
 * written ETag, or a removed record answered after the delete was sent. A key the load never
 * wrote has no change to acknowledge: any acked record for it counts.
 */
function lastChangeAcked(last: SourceWrite | undefined, acked: readonly AckedRecord[]): boolean {
  if (last === undefined) return acked.length > 0;
  return acked.some((record) =>
    last.kind === 'put'
      ? record.kind === 'created' && record.eTag === last.eTag
      : record.kind === 'removed' && record.at >= last.startedAt,
  );
}

function describeProblems(report: Omit<LedgerReport, 'problems'>): string[] {
  const problems: string[] = [];
  const keys = (list: readonly { key: string }[]) =>
    list
      .slice(0, 10)
      .map((item) => JSON.stringify(item.key))
      .join(', ') + (list.length > 10 ? `, … (${list.length})` : '');
  if (report.lost.length > 0) problems.push(`lost ${report.lost.length}: ${keys(report.lost)}`);
  if (report.unexpected.length > 0) {
    problems.push(`unexpected ${report.unexpected.length}: ${keys(report.unexpected)}`);
  }
  if (report.wrong.length > 0) {
    const corrupt = report.wrong.filter((verdict) => verdict.corrupt === true).length;
    problems.push(
      `wrong ${report.wrong.length} (${corrupt} with bytes never written): ${keys(report.wrong)}`,
    );
  }
  if (report.missed.length > 0) {
    problems.push(
      `missed ${report.missed.length} (last change never acknowledged, not healed): ${keys(report.missed)}`,
    );
  }
  if (report.wiped.length > 0) {
    problems.push(
      `wiped ${report.wiped.length} (backup deletes while the source held the key): ${keys(report.wiped)}`,
    );
  }
  if (report.parkedUnexpectedly.length > 0) {
    const codes = [...new Set(report.parkedUnexpectedly.map((task) => task.code))].join(', ');
    problems.push(
      `parked but not poisoned ${report.parkedUnexpectedly.length} (${codes}): ${keys(report.parkedUnexpectedly)}`,
    );
  }
  if (report.poisonNotParked.length > 0) {
    problems.push(
      `poisoned but not parked with the expected code: ${keys(report.poisonNotParked.map((key) => ({ key })))}`,
    );
  }
  return problems;
}
