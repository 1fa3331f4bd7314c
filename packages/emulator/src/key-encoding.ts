/**
 * Encodes an object key for the `s3.object.key` field of an event record.
 *
 * VK Cloud does not document its encoding (no live capture exists of a key with special
 * characters), so the emulator follows AWS, whose documentation says the key is URL-encoded with a
 * space becoming `+` ("red flower.jpg" → "red+flower.jpg"): the UTF-8 bytes of the key are
 * form-encoded (`application/x-www-form-urlencoded`, as Java's `URLEncoder` and `URLSearchParams`
 * do: letters, digits and `*-._` stay, a space becomes `+`, every other byte becomes `%XX` in upper
 * case), except that `/` stays raw, as it does in AWS's records. Consumers decode it with
 * `decodeURIComponent(key.replace(/\+/g, ' '))`.
 */
export function encodeEventKey(key: string): string {
  let encoded = '';
  for (const byte of Buffer.from(key, 'utf8')) {
    if (isKeptRaw(byte)) encoded += String.fromCharCode(byte);
    else if (byte === SPACE) encoded += '+';
    else encoded += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return encoded;
}

const SPACE = 0x20;
const KEPT_PUNCTUATION = new Set(['*', '-', '.', '_', '/'].map((char) => char.charCodeAt(0)));

function isKeptRaw(byte: number): boolean {
  return (
    (byte >= 0x30 && byte <= 0x39) || // 0-9
    (byte >= 0x41 && byte <= 0x5a) || // A-Z
    (byte >= 0x61 && byte <= 0x7a) || // a-z
    KEPT_PUNCTUATION.has(byte)
  );
}
