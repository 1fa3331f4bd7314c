import { redactUrl } from '../redact-url.js';

/**
 * The broker's addresses: `AMQP_URL` names one node, or every node of a cluster separated by
 * commas. Each process tries the nodes in an order of its own, so that a fleet spreads over the
 * cluster instead of piling onto the first node, and moves on to the next when one fails.
 */

/**
 * The node URLs of an `AMQP_URL` value, in the order given. Entries are split at commas that start
 * a new `amqp://` or `amqps://` URL, so a comma inside a password or query stays in its entry;
 * whitespace and commas around entries are ignored.
 *
 * Thrown when there is no entry or an entry is not an absolute amqp(s) URL with a host; the
 * message says which entry (by position) and never contains the value, which may hold a password.
 */
export function parseBrokerUrls(value: string): string[] {
  const entries = value
    .split(/,(?=\s*amqps?:\/\/)/i)
    .map((entry) => entry.replace(/^[\s,]+|[\s,]+$/g, ''))
    .filter((entry) => entry !== '');
  if (entries.length === 0) throw new Error('at least one amqp:// or amqps:// URL');
  entries.forEach((entry, index) => {
    const which = entries.length === 1 ? 'the URL' : `URL ${index + 1} of ${entries.length}`;
    if (!URL.canParse(entry)) throw new Error(`${which} is not a URL`);
    const url = new URL(entry);
    if (!/^amqps?:$/.test(url.protocol)) throw new Error(`${which} must be amqp:// or amqps://`);
    if (url.hostname === '') throw new Error(`${which} has no host`);
  });
  return entries;
}

/** Every URL without its password, comma-separated as in `AMQP_URL`. */
export function redactUrls(urls: readonly string[]): string {
  return urls.map((url) => redactUrl(url)).join(',');
}

/** `host:port` of a node URL (the default port of its scheme when absent): a metric label. */
export function nodeLabel(url: string): string {
  const parsed = new URL(url);
  const port = parsed.port === '' ? (parsed.protocol === 'amqps:' ? '5671' : '5672') : parsed.port;
  return `${parsed.hostname}:${port}`;
}

/**
 * The URLs in the order this process tries them: a random permutation (Fisher–Yates with
 * `random`, `Math.random` by default). A random order rather than a random start in the given
 * order: when a node fails, its clients move on to different nodes instead of all to its
 * neighbour in the list.
 */
export function connectionOrder(
  urls: readonly string[],
  random: () => number = Math.random,
): string[] {
  const order = [...urls];
  for (let index = order.length - 1; index > 0; index -= 1) {
    const other = Math.floor(random() * (index + 1));
    [order[index], order[other]] = [order[other] as string, order[index] as string];
  }
  return order;
}
