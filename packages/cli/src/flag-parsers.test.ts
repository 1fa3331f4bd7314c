import { describe, expect, it } from 'vitest';
import { moment } from './flag-parsers.js';

describe('moment', () => {
  const now = Date.UTC(2026, 11, 6, 12, 0, 0);

  it('reads ISO 8601 date-times with their zone', () => {
    expect(moment('2026-12-05T15:30:00Z', now)).toBe(Date.UTC(2026, 11, 5, 15, 30));
    expect(moment('2026-12-05T16:30:00+01:00', now)).toBe(Date.UTC(2026, 11, 5, 15, 30));
  });

  it('reads a duration before now', () => {
    expect(moment('90m ago', now)).toBe(now - 90 * 60_000);
    expect(moment('1d ago', now)).toBe(now - 86_400_000);
  });

  it('refuses anything else, saying what it takes', () => {
    expect(() => moment('yesterday', now)).toThrow(/ISO 8601/);
    expect(() => moment('2026-13-45T99:00:00Z', now)).toThrow(/not a date-time/);
    expect(() => moment('soon ago', now)).toThrow();
  });
});
