import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createOutput, printable, table } from './output.js';

describe('printable', () => {
  it('escapes controls, separators and bidi overrides, and nothing else', () => {
    expect(printable('a\x1b[2Jb\x07c\nd\re\tf\x00\x7f\u0085\u009b')).toBe(
      'a\\x1b[2Jb\\x07c\\nd\\re\\tf\\x00\\x7f\\x85\\x9b',
    );
    expect(printable('x\u202ey\u2066z\u2028')).toBe('x\\u202ey\\u2066z\\u2028');
    const plain = 'dir/ключ 😀 + % \\ "q".txt';
    expect(printable(plain)).toBe(plain);
  });

  it('changes nothing the second time', () => {
    const once = printable('a\x1b]0;t\x07\\x1b');
    expect(printable(once)).toBe(once);
  });
});

describe('table', () => {
  it('keeps one line per row whatever the cells hold', () => {
    const text = table(
      ['KEY', 'N'],
      [
        ['a\nb', '1'],
        ['c', '2'],
      ],
    );
    expect(text.split('\n')).toEqual(['KEY   N', '----  -', 'a\\nb  1', 'c     2']);
  });
});

describe('createOutput', () => {
  function capture(json: boolean) {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const output = createOutput({ json, stdout, stderr });
    const read = (stream: PassThrough) => String(stream.read() ?? '');
    return { output, stdout: () => read(stdout), stderr: () => read(stderr) };
  }

  it('escapes every line of human output and warnings, keeping the line breaks', () => {
    const c = capture(false);
    c.output.line('first \x1b[31m\nsecond \x07');
    c.output.warn('bucket \x1b]0;x\x07');
    expect(c.stdout()).toBe('first \\x1b[31m\nsecond \\x07\n');
    expect(c.stderr()).toBe('bucket \\x1b]0;x\\x07\n');
  });

  it('writes JSON that parses back exactly, without raw C1 or bidi characters', () => {
    const c = capture(true);
    const value = { key: 'a\u009b\u202e\x1b\nb', list: [1, 2] };
    c.output.result(value);
    const text = c.stdout();
    expect(text).not.toMatch(/[^\P{Cc}\n]|\u202e/u);
    expect(text).toContain('\n  "list"');
    expect(JSON.parse(text)).toEqual(value);
  });
});
