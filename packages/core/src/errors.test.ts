import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  ConfigError,
  ERROR_CATALOGUE,
  PermanentError,
  TransientError,
  httpStatusOf,
  type ErrorCode,
  type PermanentCode,
  type TransientCode,
} from './errors.js';

const entries = Object.entries(ERROR_CATALOGUE) as [
  ErrorCode,
  (typeof ERROR_CATALOGUE)[ErrorCode],
][];

describe('the error catalogue', () => {
  it('names every code RELAY_<AREA>_<WHAT> in capitals (RELAY_SHUTDOWN is older than the rule)', () => {
    for (const [code] of entries) {
      if (code !== 'RELAY_SHUTDOWN') expect(code).toMatch(/^RELAY_[A-Z0-9]+(_[A-Z0-9]+)+$/);
    }
  });

  it('gives every code a one-line meaning and action, as sentences', () => {
    for (const [code, spec] of entries) {
      for (const text of [spec.meaning, spec.action]) {
        expect(text, code).toMatch(/^[A-Z`'].*[.)]$/);
        expect(text, code).not.toContain('\n');
      }
    }
  });

  it('answers every retryable code with a 503 and no permanent one with a 503', () => {
    // SNS drops a message answered 4xx and retries a 5xx: a failure that may pass must be a 503.
    for (const [code, spec] of entries) {
      expect(httpStatusOf(code) === 503, code).toBe(spec.retryable);
    }
  });

  it('gives a code without a status of its own 503 when retryable, else 500', () => {
    expect(httpStatusOf('RELAY_S3_NETWORK')).toBe(503);
    expect(httpStatusOf('RELAY_AMQP_TOPOLOGY_MISMATCH')).toBe(500);
    expect(httpStatusOf('RELAY_WEBHOOK_UNAUTHORIZED')).toBe(401);
    expect(httpStatusOf('RELAY_HTTP_NOT_FOUND')).toBe(404);
  });
});

describe('error constructors', () => {
  it('take their retryability from the catalogue', () => {
    const permanent = new PermanentError('RELAY_S3_ACCESS_DENIED', 'denied', {
      context: { bucket: 'b', key: 'k' },
      cause: new Error('underneath'),
    });
    expect(permanent).toMatchObject({
      name: 'PermanentError',
      code: 'RELAY_S3_ACCESS_DENIED',
      retryable: false,
      message: 'denied',
      context: { bucket: 'b', key: 'k' },
    });
    expect((permanent.cause as Error).message).toBe('underneath');
    const transient = new TransientError('RELAY_S3_NETWORK', 'reset');
    expect(transient).toMatchObject({ name: 'TransientError', retryable: true, context: {} });
    expect(transient.cause).toBeUndefined();
    expect(new ConfigError('bad')).toMatchObject({
      name: 'ConfigError',
      code: 'RELAY_CONFIG_INVALID',
      retryable: false,
    });
  });

  it('accept only catalogued codes of their kind (checked by npm run typecheck)', () => {
    expectTypeOf<ConstructorParameters<typeof PermanentError>[0]>().toEqualTypeOf<PermanentCode>();
    expectTypeOf<ConstructorParameters<typeof TransientError>[0]>().toEqualTypeOf<TransientCode>();
    expectTypeOf<'RELAY_S3_ACCESS_DENIED'>().toExtend<PermanentCode>();
    expectTypeOf<'RELAY_S3_ACCESS_DENIED'>().not.toExtend<TransientCode>();
    expectTypeOf<'RELAY_S3_NETWORK'>().toExtend<TransientCode>();
    expectTypeOf<'RELAY_S3_NETWORK'>().not.toExtend<PermanentCode>();
    expectTypeOf<'RELAY_NOT_CATALOGUED'>().not.toExtend<ErrorCode>();
    expect(
      // @ts-expect-error: a code that is not in the catalogue
      () => new PermanentError('RELAY_NOT_CATALOGUED', 'x'),
    ).toThrow('RELAY_NOT_CATALOGUED is not in the error catalogue');
  });
});
