import type { WebhookSource } from '../task.js';

/**
 * How a source writes object keys into its event records:
 * - `form`: `application/x-www-form-urlencoded` style, `' '` as `+` and everything else
 *   percent-escaped as UTF-8 (AWS S3 directly or through SNS, MinIO's `url.QueryEscape`, and, by
 *   assumption since VK documents nothing, VK Cloud);
 * - `raw`: the key exactly as stored (Ceph RGW, confirmed on captures from a real RGW 16.2).
 */
export type KeyEncoding = 'form' | 'raw';

/** The key encoding of a webhook source. */
export function keyEncodingOf(source: WebhookSource): KeyEncoding {
  return source === 'ceph' ? 'raw' : 'form';
}

/** A decoded key; `malformed` means the key had a bad escape and is returned as received. */
export interface DecodedKey {
  readonly key: string;
  readonly malformed: boolean;
}

/**
 * Decodes a key from an event record. Form decoding turns `+` into a space first and then
 * percent-decodes, so `%2B` still yields a literal `+`. A key whose escapes do not decode (a lone
 * `%`, or bytes that are not UTF-8) is kept exactly as received rather than half-decoded: a raw
 * key can be found again by hand, a partly decoded one cannot.
 */
export function decodeKey(raw: string, encoding: KeyEncoding): DecodedKey {
  // Most keys have neither '+' nor '%': skip the replace and the decoder for them.
  if (encoding === 'raw' || !/[%+]/.test(raw)) return { key: raw, malformed: false };
  try {
    return { key: decodeURIComponent(raw.replace(/\+/g, ' ')), malformed: false };
  } catch {
    return { key: raw, malformed: true };
  }
}
