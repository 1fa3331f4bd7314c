import { describe, expect, it } from 'vitest';
import {
  judge,
  WIPE_GRACE_MS,
  type AckedRecord,
  type LedgerInput,
  type SourceWrite,
} from './ledger.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);

const put = (key: string, sha256: string, startedAt = 1): SourceWrite => ({
  key,
  kind: 'put',
  sha256,
  eTag: `etag-${sha256.slice(0, 1)}`,
  startedAt,
  doneAt: startedAt + 1,
});
const del = (key: string, startedAt: number): SourceWrite => ({
  key,
  kind: 'delete',
  startedAt,
  doneAt: startedAt + 1,
});
const created = (key: string, sha256: string, at = 2): AckedRecord => ({
  key,
  kind: 'created',
  eTag: `etag-${sha256.slice(0, 1)}`,
  at,
});
const removed = (key: string, at: number): AckedRecord => ({ key, kind: 'removed', at });

function input(overrides: Partial<LedgerInput>): LedgerInput {
  return {
    writes: [],
    acked: [],
    source: new Map(),
    backup: new Map(),
    parked: [],
    poisoned: [],
    poisonCode: 'RELAY_S3_ACCESS_DENIED',
    backupDeletes: [],
    ...overrides,
  };
}

describe('ledger', () => {
  it('is clean when every key is reflected, deleted keys included', () => {
    const report = judge(
      input({
        writes: [put('k1', A), put('k2', B), del('k2', 10)],
        acked: [created('k1', A), created('k2', B), removed('k2', 11)],
        source: new Map([['k1', A]]),
        backup: new Map([['k1', A]]),
      }),
    );
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ acked: 3, keys: 2, ok: 2 });
  });

  it('counts an acknowledged create missing from the backup as lost', () => {
    const report = judge(
      input({
        writes: [put('k1', A)],
        acked: [created('k1', A)],
        source: new Map([['k1', A]]),
      }),
    );
    expect(report.lost.map((verdict) => verdict.key)).toEqual(['k1']);
    expect(report.problems).toEqual(['lost 1: "k1"']);
  });

  it('counts an acknowledged delete still in the backup as lost', () => {
    const report = judge(
      input({
        writes: [put('k1', A), del('k1', 10)],
        acked: [created('k1', A), removed('k1', 12)],
        backup: new Map([['k1', A]]),
      }),
    );
    expect(report.lost.map((verdict) => verdict.key)).toEqual(['k1']);
  });

  it('counts a stale backup as wrong, and bytes never written as corrupt', () => {
    const report = judge(
      input({
        writes: [put('k1', A), put('k1', B), put('k2', A)],
        acked: [created('k1', A), created('k1', B), created('k2', A)],
        source: new Map([
          ['k1', B],
          ['k2', A],
        ]),
        backup: new Map([
          ['k1', A],
          ['k2', C],
        ]),
      }),
    );
    expect(report.wrong).toEqual([
      { key: 'k1', category: 'wrong', source: B, backup: A, corrupt: false },
      { key: 'k2', category: 'wrong', source: A, backup: C, corrupt: true },
    ]);
    expect(report.lost).toEqual([]);
  });

  it('counts a backup key the load never wrote as unexpected', () => {
    const report = judge(input({ backup: new Map([['ghost', A]]) }));
    expect(report.unexpected.map((verdict) => verdict.key)).toEqual(['ghost']);
    expect(report.problems).toEqual(['unexpected 1: "ghost"']);
  });

  it('counts a change whose event was never acknowledged as missed, not lost', () => {
    const report = judge(
      input({
        // The create was acknowledged; the delete's event was dropped by the sender.
        writes: [put('k1', A), del('k1', 10)],
        acked: [created('k1', A, 5), removed('k1', 8)],
        backup: new Map([['k1', A]]),
      }),
    );
    expect(report.missed.map((verdict) => verdict.key)).toEqual(['k1']);
    expect(report.lost).toEqual([]);
    expect(report.problems).toHaveLength(1);
  });

  it('accepts exactly the poisoned keys parked with the expected code', () => {
    const report = judge(
      input({
        writes: [put('poison/1', A)],
        acked: [created('poison/1', A), created('poison/1', A)],
        source: new Map([['poison/1', A]]),
        parked: [
          { key: 'poison/1', code: 'RELAY_S3_ACCESS_DENIED' },
          { key: 'poison/1', code: 'RELAY_S3_ACCESS_DENIED' },
        ],
        poisoned: ['poison/1'],
      }),
    );
    expect(report.problems).toEqual([]);
    expect(report.parked).toEqual(['poison/1']);
  });

  it('fails a parked key that was not poisoned, and a poisoned key not parked', () => {
    const report = judge(
      input({
        writes: [put('k1', A), put('poison/1', B)],
        acked: [created('k1', A), created('poison/1', B)],
        source: new Map([
          ['k1', A],
          ['poison/1', B],
        ]),
        backup: new Map([['k1', A]]),
        parked: [{ key: 'k1', code: 'RELAY_TASK_DELIVERY_LIMIT' }],
        poisoned: ['poison/1'],
      }),
    );
    expect(report.parkedUnexpectedly).toEqual([{ key: 'k1', code: 'RELAY_TASK_DELIVERY_LIMIT' }]);
    expect(report.poisonNotParked).toEqual(['poison/1']);
    // Not parked and not replicated: the poisoned key's acknowledged event is also lost.
    expect(report.lost.map((verdict) => verdict.key)).toEqual(['poison/1']);
    expect(report.problems).toHaveLength(3);
  });

  it('fails a poisoned key parked with another code', () => {
    const report = judge(
      input({
        writes: [put('poison/1', A)],
        acked: [created('poison/1', A)],
        source: new Map([['poison/1', A]]),
        parked: [{ key: 'poison/1', code: 'RELAY_S3_SERVER_ERROR' }],
        poisoned: ['poison/1'],
      }),
    );
    expect(report.poisonNotParked).toEqual(['poison/1']);
  });

  it('counts a backup delete while the source held the key as wiped, even once copied back', () => {
    const at = 100_000;
    const report = judge(
      input({
        writes: [put('k1', A, 1000), put('k1', B, at + 50)],
        acked: [created('k1', A, 1500), created('k1', B, at + 60)],
        source: new Map([['k1', B]]),
        // The next create copied it again: the end is reflected, the wipe still happened.
        backup: new Map([['k1', B]]),
        backupDeletes: [{ key: 'k1', at }],
      }),
    );
    expect(report.ok).toBe(1);
    expect(report.wiped).toEqual([{ key: 'k1', at, heldSince: 1001 }]);
    expect(report.problems).toEqual([
      'wiped 1 (backup deletes while the source held the key): "k1"',
    ]);
  });

  it('counts a wipe between a put and a later delete, not a delete after the source deleted', () => {
    const report = judge(
      input({
        writes: [put('k1', A, 1000), del('k1', 50_000), put('k2', A, 1000), del('k2', 50_000)],
        acked: [created('k1', A), removed('k1', 50_010), created('k2', A), removed('k2', 50_010)],
        backupDeletes: [
          // k1: deleted in the backup at 30 s while the source held it until 50 s.
          { key: 'k1', at: 30_000 },
          // k2: deleted after the source's delete was sent, as it should be.
          { key: 'k2', at: 50_020 },
        ],
      }),
    );
    expect(report.wiped.map((wipe) => wipe.key)).toEqual(['k1']);
    expect(report.backupDeletes).toBe(2);
    expect(report.ok).toBe(2);
  });

  it('does not count a delete that raced a put answered less than the grace before it', () => {
    // The worker read NoSuchKey, then the put answered, then its delete reached the backup.
    const racing = judge(
      input({
        writes: [put('k1', A, 1000), del('k1', 2000), put('k1', B, 10_000)],
        backupDeletes: [{ key: 'k1', at: 10_001 + WIPE_GRACE_MS - 1 }],
      }),
    );
    expect(racing.wiped).toEqual([]);
    const late = judge(
      input({
        writes: [put('k1', A, 1000), del('k1', 2000), put('k1', B, 10_000)],
        backupDeletes: [{ key: 'k1', at: 10_001 + WIPE_GRACE_MS }],
      }),
    );
    expect(late.wiped.map((wipe) => wipe.key)).toEqual(['k1']);
  });
});
