import { BlockList, isIPv4, isIPv6 } from 'node:net';

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Parses a duration such as `500ms`, `10s`, `1m`, `1h15m` or `24h` into milliseconds; a bare
 * number is milliseconds. Thrown when the text is not a duration.
 */
export function parseDurationMs(raw: string): number {
  const text = raw.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const pattern = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  for (const match of text.matchAll(pattern)) {
    total += Number(match[1]) * (DURATION_UNITS_MS[match[2] ?? ''] ?? Number.NaN);
    consumed += match[0].length;
  }
  if (text.length === 0 || consumed !== text.length || !Number.isFinite(total)) {
    throw new Error(`"${raw}" is not a duration (examples: 500ms, 10s, 1m, 1h15m)`);
  }
  return Math.round(total);
}

/** Formats milliseconds the way {@link parseDurationMs} reads them: `1s`, `10m`, `1h`, `1500ms`. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

const BYTE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kb: 1024,
  mb: 1024 ** 2,
  gb: 1024 ** 3,
};

/** Parses `512kb`, `8mb`, `1gb` or a number of bytes (binary units, as Express's body limit). */
export function parseByteSize(raw: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(raw);
  const unit = BYTE_UNITS[(match?.[2] ?? '').toLowerCase()];
  if (match === null || unit === undefined) {
    throw new Error(`"${raw}" is not a size (examples: 512kb, 8mb)`);
  }
  return Math.floor(Number(match[1]) * unit);
}

/** An IPv4 or IPv6 network. */
export interface Cidr {
  readonly text: string;
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** Parses `10.0.0.0/8`, `2001:db8::/32` or a single address. Thrown when it is neither. */
export function parseCidr(raw: string): Cidr {
  const [address = '', prefixText] = raw.trim().split('/');
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
  if (family === undefined) throw new Error(`"${raw}" is not an IP address or CIDR`);
  const max = family === 'ipv4' ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || prefixText === '') {
    throw new Error(`"${raw}" has an invalid prefix length`);
  }
  return { text: raw.trim(), address, prefix, family };
}

/** A matcher for "is this client address in one of these networks" (IPv4-mapped IPv6 included). */
export function createIpAllowList(cidrs: readonly Cidr[]): (ip: string) => boolean {
  if (cidrs.length === 0) return () => true;
  const list = new BlockList();
  for (const cidr of cidrs) list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  return (ip) => {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
    if (mapped !== undefined) return list.check(mapped, 'ipv4');
    if (isIPv4(ip)) return list.check(ip, 'ipv4');
    if (isIPv6(ip)) return list.check(ip, 'ipv6');
    return false;
  };
}
