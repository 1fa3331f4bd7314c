import { describe, expect, it } from 'vitest';
import {
  createIpAllowList,
  formatDuration,
  parseByteSize,
  parseCidr,
  parseDurationMs,
} from './units.js';

describe('durations', () => {
  it.each([
    ['250', 250],
    ['500ms', 500],
    ['10s', 10_000],
    ['1m', 60_000],
    ['1h15m', 4_500_000],
    ['1.5s', 1500],
    ['2d', 172_800_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(['', 'soon', '10x', '1h 15m', '-1s', 's'])('rejects %j', (text) => {
    expect(() => parseDurationMs(text)).toThrow(/not a duration/);
  });

  it.each([
    [1000, '1s'],
    [600_000, '10m'],
    [3_600_000, '1h'],
    [1500, '1500ms'],
  ])('formats %d as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('byte sizes', () => {
  it('reads binary units', () => {
    expect(parseByteSize('100')).toBe(100);
    expect(parseByteSize('512kb')).toBe(524_288);
    expect(parseByteSize('8MB')).toBe(8_388_608);
  });
  it('rejects nonsense', () => {
    expect(() => parseByteSize('lots')).toThrow(/not a size/);
  });
});

describe('IP allow list', () => {
  it('matches IPv4, IPv6 and IPv4-mapped addresses', () => {
    const allowed = createIpAllowList(
      ['10.0.0.0/8', '2001:db8::/32', '192.168.1.7'].map(parseCidr),
    );
    expect(allowed('10.1.2.3')).toBe(true);
    expect(allowed('::ffff:10.1.2.3')).toBe(true);
    expect(allowed('11.0.0.1')).toBe(false);
    expect(allowed('2001:db8::1')).toBe(true);
    expect(allowed('2001:db9::1')).toBe(false);
    expect(allowed('192.168.1.7')).toBe(true);
    expect(allowed('192.168.1.8')).toBe(false);
    expect(allowed('garbage')).toBe(false);
  });
  it('allows everyone when empty', () => {
    expect(createIpAllowList([])('203.0.113.5')).toBe(true);
  });
  it('rejects bad CIDRs', () => {
    expect(() => parseCidr('10.0.0.0/33')).toThrow(/prefix/);
    expect(() => parseCidr('example.com')).toThrow(/not an IP/);
    expect(() => parseCidr('10.0.0.0/')).toThrow(/prefix/);
  });
});
