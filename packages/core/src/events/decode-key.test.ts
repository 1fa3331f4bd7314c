import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WEBHOOK_SOURCES } from '../task.js';
import { decodeKey, keyEncodingOf } from './decode-key.js';
import { parseWebhook } from './parse-webhook.js';

/**
 * Go's `url.QueryEscape`, which MinIO applies to object keys: the UTF-8 bytes, with
 * `[A-Za-z0-9-_.~]` kept, a space written `+`, and every other byte `%XX` in upper case.
 */
function goQueryEscape(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte);
    if (/^[A-Za-z0-9\-_.~]$/.test(char)) out += char;
    else if (char === ' ') out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

describe('form decoding (AWS, SNS, VK, MinIO)', () => {
  // Reference 7.4.
  it.each([
    ['red+flower.jpg', 'red flower.jpg'],
    ['a%2Bb.txt', 'a+b.txt'],
    ['photos/2024/%D1%84%D0%BE%D1%82%D0%BE+1.jpg', 'photos/2024/фото 1.jpg'],
    ['test%2F10%3A47%3A07.log', 'test/10:47:07.log'],
    ['100%25.txt', '100%.txt'],
    ['path/to/file.csv', 'path/to/file.csv'],
  ])('%s → %s', (raw, key) => {
    expect(decodeKey(raw, 'form')).toEqual({ key, malformed: false });
  });

  it.each([['bad%E0%A4%A.txt'], ['100%.txt'], ['%'], ['%C3%28'], ['a+b%zz']])(
    'keeps %s as received when an escape is malformed, and says so',
    (raw) => {
      expect(decodeKey(raw, 'form')).toEqual({ key: raw, malformed: true });
    },
  );
});

// The first binary string makes fast-check build its table of every code point (1.1 million),
// seconds on a busy machine before the 2,000 cases.
describe('MinIO keys (Go url.QueryEscape)', { timeout: 30_000 }, () => {
  // Reference 7.4: the encoder is checked against the reference's own encodings first.
  it.each([
    ['photos/my file+1.jpg', 'photos%2Fmy+file%2B1.jpg'],
    ['фото 1.jpg', '%D1%84%D0%BE%D1%82%D0%BE+1.jpg'],
    ['a%b.txt', 'a%25b.txt'],
    ['dir/(1) copy.pdf', 'dir%2F%281%29+copy.pdf'],
    ['x=y&z.txt', 'x%3Dy%26z.txt'],
    ['~tilde_-.txt', '~tilde_-.txt'],
  ])('%s is sent as %s and decodes back', (key, sent) => {
    expect(goQueryEscape(key)).toBe(sent);
    expect(decodeKey(sent, 'form')).toEqual({ key, malformed: false });
  });

  it('round-trips any Unicode key: decode(encode(k)) === k', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1 }), (key) => {
        expect(decodeKey(goQueryEscape(key), 'form')).toEqual({ key, malformed: false });
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips through parseWebhook, matching the top-level Key', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
        fc.constantFrom('dir/(1) copy.pdf', 'a%b.txt', 'x=y&z.txt', 'фото 1.jpg', 'a+b c'),
        (random, fixed) => {
          for (const key of [random, fixed]) {
            const body = {
              EventName: 's3:ObjectCreated:Put',
              Key: `mybucket/${key}`,
              Records: [
                {
                  eventVersion: '2.0',
                  eventSource: 'minio:s3',
                  eventName: 's3:ObjectCreated:Put',
                  s3: {
                    bucket: { name: 'mybucket' },
                    object: { key: goQueryEscape(key), size: 1, sequencer: '17CB2F3C9A1B2C3D' },
                  },
                },
              ],
            };
            const result = parseWebhook({
              source: 'minio',
              headers: {},
              body: Buffer.from(JSON.stringify(body)),
              receivedAt: new Date('2026-11-29T00:00:00Z'),
            });
            expect(result.type).toBe('records');
            if (result.type !== 'records') return;
            expect(result.tasks.map((task) => task.key)).toEqual([key]);
            expect(result.warnings).toEqual([]);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('Ceph keys (raw)', () => {
  it.each([['a%2Bb'], ['c++ pkg.tar'], ['100%.txt'], ['dir/hello wörld ☃+plus&amp=eq.txt']])(
    '%s comes out unchanged',
    (raw) => {
      expect(decodeKey(raw, 'raw')).toEqual({ key: raw, malformed: false });
    },
  );

  it('would be corrupted by form decoding, which is why Ceph gets none', () => {
    expect(decodeKey('a%2Bb', 'form').key).toBe('a+b');
    expect(decodeKey('c++ pkg.tar', 'form').key).toBe('c   pkg.tar');
    expect(decodeKey('100%.txt', 'form').malformed).toBe(true);
  });

  it('is the only source with raw keys', () => {
    expect(WEBHOOK_SOURCES.map((source) => [source, keyEncodingOf(source)])).toEqual([
      ['mcs', 'form'],
      ['sns', 'form'],
      ['minio', 'form'],
      ['ceph', 'raw'],
      ['s3', 'form'],
    ]);
  });
});
