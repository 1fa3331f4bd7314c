import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { healCommand, shellWord, type Findings } from './heal-command.js';

const base: Findings = {
  bucket: 'data',
  prefix: '',
  missing: 1,
  different: 0,
  extra: 0,
  contentDiffers: false,
  tagsDiffer: false,
  deletesOn: true,
};

describe('healCommand', () => {
  it('is a plain resync of the bucket for missing keys and stale metadata', () => {
    expect(healCommand(base)).toBe('s3relay resync --bucket data');
  });

  it('compares bytes when only bytes differ, and tags when tags do', () => {
    expect(healCommand({ ...base, different: 2, contentDiffers: true, tagsDiffer: true })).toBe(
      's3relay resync --bucket data --deep --tags',
    );
  });

  it('keeps the prefix and deletes extras only when the workers delete', () => {
    expect(healCommand({ ...base, prefix: 'logs/', extra: 3 })).toBe(
      's3relay resync --bucket data --prefix logs/ --delete',
    );
    expect(healCommand({ ...base, extra: 3, deletesOn: false })).toBe(
      's3relay resync --bucket data',
    );
  });
});

describe('shellWord', () => {
  it('survives a real shell unchanged', () => {
    for (const text of ["it's a $HOME `x` & \\ *", 'plain-name.1', 'with space/', 'ключ']) {
      const echoed = execFileSync('sh', ['-c', `printf %s ${shellWord(text)}`], {
        encoding: 'utf8',
      });
      expect(echoed).toBe(text);
    }
  });
});
