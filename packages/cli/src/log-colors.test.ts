import { describe, expect, it } from 'vitest';
import { logColors } from './log-colors.js';

describe('logColors', () => {
  it('colours a terminal only', () => {
    expect(logColors({}, { isTTY: true })).toBe(true);
    expect(logColors({}, { isTTY: false })).toBe(false);
    expect(logColors({}, {})).toBe(false);
  });

  it('never colours with NO_COLOR, whatever else is set', () => {
    expect(logColors({ NO_COLOR: '1' }, { isTTY: true })).toBe(false);
    expect(logColors({ NO_COLOR: '1', FORCE_COLOR: '1' }, { isTTY: true })).toBe(false);
    // An empty NO_COLOR does not count (no-color.org).
    expect(logColors({ NO_COLOR: '' }, { isTTY: true })).toBe(true);
  });

  it('follows FORCE_COLOR on a pipe', () => {
    expect(logColors({ FORCE_COLOR: '1' }, { isTTY: false })).toBe(true);
    expect(logColors({ FORCE_COLOR: '0' }, { isTTY: true })).toBe(false);
  });
});
