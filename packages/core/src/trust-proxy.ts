import { parseCidr, type Cidr } from './units.js';

/**
 * Which reverse proxies the ingress believes about the client (X-Forwarded-For) and the URL
 * (X-Forwarded-Proto/-Host): the last `hops` ones whoever they are (0: none), or only those whose
 * address is in `networks` — the safe choice when clients can also reach the ingress directly,
 * since a hop count believes whatever connects.
 */
export type TrustProxy =
  | { readonly kind: 'hops'; readonly hops: number }
  | { readonly kind: 'networks'; readonly networks: readonly Cidr[] };

/** The most hops a count may say; more proxies in a row than this is a configuration mistake. */
const MAX_HOPS = 10;

/** Express's names for address ranges, accepted in the list as it accepts them. */
const NAMED_NETWORKS: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

const WORDS: Readonly<Record<string, number>> = { false: 0, no: 0, off: 0, true: 1, yes: 1, on: 1 };

/**
 * Parses TRUST_PROXY: `false` (the default) or `true` (one hop), a hop count, or a
 * comma-separated list of proxy addresses and CIDRs (and `loopback`, `linklocal`,
 * `uniquelocal`). Thrown with the reason when it is none of these.
 */
export function parseTrustProxy(raw: string): TrustProxy {
  const text = raw.trim().toLowerCase();
  const word = WORDS[text];
  if (word !== undefined) return { kind: 'hops', hops: word };
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops > MAX_HOPS) throw new Error(`"${raw}" hops: at most ${MAX_HOPS}`);
    return { kind: 'hops', hops };
  }
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) throw new Error('empty: false, true, a hop count or proxy CIDRs');
  return {
    kind: 'networks',
    networks: entries.flatMap((entry) => (NAMED_NETWORKS[entry] ?? [entry]).map(parseCidr)),
  };
}
