import { PermanentError, TransientError } from '@s3relay/core';
import { topologyNames } from '@s3relay/core/amqp';
import { describe, expect, it } from 'vitest';
import { TaskHeaders } from '@s3relay/core';
import { attemptOf, decideFailure } from './retry-policy.js';

const retryDelaysMs = [1000, 10_000, 60_000];
const names = topologyNames({ prefix: 'p', retryDelaysMs });
const now = new Date('2026-11-29T12:00:00.000Z');
const transient = new TransientError('RELAY_S3_SERVER_ERROR', 'S3 answered InternalError');
const base = { names, retryDelaysMs, maxAttempts: 5, now };

describe('attemptOf', () => {
  it('reads x-s3relay-attempt and defaults to 1', () => {
    expect(attemptOf(undefined)).toBe(1);
    expect(attemptOf({})).toBe(1);
    expect(attemptOf({ [TaskHeaders.attempt]: 3 })).toBe(3);
    expect(attemptOf({ [TaskHeaders.attempt]: '4' })).toBe(4);
    for (const bad of [0, -2, 1.5, 'x', null, { n: 1 }]) {
      expect(attemptOf({ [TaskHeaders.attempt]: bad })).toBe(1);
    }
  });

  it('ignores x-death, which any publisher can forge', () => {
    expect(attemptOf({ 'x-death': [{ count: 50, queue: 'p.tasks' }] })).toBe(1);
  });
});

describe('decideFailure', () => {
  it('sends attempt n to the n-th delay tier with the attempt raised, the last tier repeating', () => {
    const queues = [1, 2, 3, 4].map((attempt) => {
      const decision = decideFailure({ ...base, error: transient, attempt, headers: {} });
      expect(decision.action).toBe('retry');
      expect(decision.headers[TaskHeaders.attempt]).toBe(attempt + 1);
      return decision.queue;
    });
    expect(queues).toEqual(['p.retry.1s', 'p.retry.10s', 'p.retry.1m', 'p.retry.1m']);
  });

  it('dead-letters when the attempts are used up, with the reason and the count', () => {
    const decision = decideFailure({ ...base, error: transient, attempt: 5, headers: {} });
    expect(decision).toMatchObject({ action: 'dead-letter', queue: 'p.dlq' });
    expect(decision.headers).toMatchObject({
      [TaskHeaders.errorCode]: 'RELAY_S3_SERVER_ERROR',
      [TaskHeaders.error]: 'S3 answered InternalError',
      [TaskHeaders.attempts]: 5,
      [TaskHeaders.lastFailedAt]: now.toISOString(),
    });
  });

  it('dead-letters a permanent error at once', () => {
    const error = new PermanentError('RELAY_S3_ACCESS_DENIED', 'AccessDenied');
    const decision = decideFailure({ ...base, error, attempt: 1, headers: undefined });
    expect(decision.action).toBe('dead-letter');
    expect(decision.headers[TaskHeaders.attempts]).toBe(1);
    expect(decision.headers[TaskHeaders.firstFailedAt]).toBe(now.toISOString());
  });

  it('keeps first-failed-at and other headers, and drops the broker-owned ones', () => {
    const headers = {
      [TaskHeaders.firstFailedAt]: '2026-11-28T00:00:00.000Z',
      [TaskHeaders.attempt]: 2,
      'x-trace': 'abc',
      'x-death': [{ count: 1 }],
      'x-first-death-queue': 'p.retry.1s',
      'x-last-death-reason': 'expired',
      'x-delivery-count': 3,
    };
    const decision = decideFailure({ ...base, error: transient, attempt: 2, headers });
    expect(decision.headers).toEqual({
      [TaskHeaders.firstFailedAt]: '2026-11-28T00:00:00.000Z',
      [TaskHeaders.lastFailedAt]: now.toISOString(),
      [TaskHeaders.attempt]: 3,
      [TaskHeaders.errorCode]: 'RELAY_S3_SERVER_ERROR',
      [TaskHeaders.error]: 'S3 answered InternalError',
      'x-trace': 'abc',
    });
  });

  it('bounds the error header', () => {
    const error = new TransientError('RELAY_S3_NETWORK', 'x'.repeat(5000));
    const decision = decideFailure({ ...base, error, attempt: 1, headers: {} });
    expect(String(decision.headers[TaskHeaders.error]).length).toBe(1000);
  });
});
