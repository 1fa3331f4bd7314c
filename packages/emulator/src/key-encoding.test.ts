import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeEventKey } from './key-encoding.js';

/** How consumers decode AWS-style event keys (`decodeKey` in packages/core/src/events/decode-key.ts). */
const decode = (key: string) => decodeURIComponent(key.replace(/\+/g, ' '));

// The first binary string makes fast-check build its table of every code point (1.1 million),
// seconds on a busy machine.
describe('encodeEventKey', { timeout: 30_000 }, () => {
  it.each([
    ['some-file-to-bucket', 'some-file-to-bucket'],
    ['red flower.jpg', 'red+flower.jpg'],
    ['a+b.txt', 'a%2Bb.txt'],
    ['photos/2024/фото 1.jpg', 'photos/2024/%D1%84%D0%BE%D1%82%D0%BE+1.jpg'],
    ['test/10:47:07.log', 'test/10%3A47%3A07.log'],
    ['100%.txt', '100%25.txt'],
    ['dir/(1) copy.pdf', 'dir/%281%29+copy.pdf'],
    ['x=y&z.txt', 'x%3Dy%26z.txt'],
    ['~tilde_-.*txt', '%7Etilde_-.*txt'],
    ['emoji 😀', 'emoji+%F0%9F%98%80'],
    ['a//b/', 'a//b/'],
  ])('encodes %j as %j', (key, encoded) => {
    expect(encodeEventKey(key)).toBe(encoded);
  });

  it('matches form encoding except that "/" stays raw', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (key) => {
        const form = new URLSearchParams({ k: key }).toString().slice(2).replaceAll('%2F', '/');
        expect(encodeEventKey(key)).toBe(form);
      }),
    );
  });

  it('round-trips through the decoder consumers use', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (key) => {
        expect(decode(encodeEventKey(key))).toBe(key);
      }),
    );
  });
});
