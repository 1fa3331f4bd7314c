import { describe, expect, it } from 'vitest';
import { pointInTimeAt } from './flag-parsers.js';

describe('pointInTimeAt', () => {
  const now = Date.UTC(2026, 11, 6, 12, 0, 0);

  it('reads ISO 8601 times with their zone', () => {
    expect(pointInTimeAt('2026-12-05T15:30:00Z', now).getTime()).toBe(
      Date.UTC(2026, 11, 5, 15, 30),
    );
    expect(pointInTimeAt('2026-12-05T16:30:00+01:00', now).getTime()).toBe(
      Date.UTC(2026, 11, 5, 15, 30),
    );
  });

  it('reads an age, with or without "ago"', () => {
    expect(pointInTimeAt('90m', now).getTime()).toBe(now - 90 * 60_000);
    expect(pointInTimeAt('90m ago', now).getTime()).toBe(now - 90 * 60_000);
    expect(pointInTimeAt('1d ago', now).getTime()).toBe(now - 86_400_000);
  });

  it('refuses anything else, saying what it takes', () => {
    expect(() => pointInTimeAt('yesterday', now)).toThrow(/ISO 8601/);
    expect(() => pointInTimeAt('1', now)).toThrow(/ISO 8601/);
    expect(() => pointInTimeAt('2026-13-45T99:00:00Z', now)).toThrow(/ISO 8601/);
    expect(() => pointInTimeAt('soon ago', now)).toThrow(/ISO 8601/);
  });
});
