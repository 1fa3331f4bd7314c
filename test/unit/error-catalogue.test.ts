import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE } from '@s3relay/core';

// The catalogue against the code and the documents: every code it lists is raised somewhere, and
// every code anything mentions is in it (Fastify keeps lib/errors.js and its docs equal the same
// way). The README's table is generated from it and checked by readme.test.ts.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CATALOGUE_FILE = 'packages/core/src/errors.ts';
const CODE = /\bRELAY_[A-Z0-9]+(?:_[A-Z0-9]+)*\b/g;

/** Every file under `dir` whose name passes `keep`, relative to the repository. */
function filesUnder(dir: string, keep: (name: string) => boolean): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && keep(entry.name))
    .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name)))
    .filter(
      (file) => !file.split(path.sep).some((part) => part === 'node_modules' || part === 'dist'),
    );
}

const sources = filesUnder('packages', (name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))
  .filter((file) => file !== CATALOGUE_FILE)
  .map((file) => ({ file, text: readFileSync(path.join(ROOT, file), 'utf8') }));

const documents = [
  'README.md',
  ...filesUnder('packages', (name) => name.endsWith('.md')),
  ...filesUnder('deploy', (name) => name.endsWith('.md')),
].map((file) => ({ file, text: readFileSync(path.join(ROOT, file), 'utf8') }));

describe('the error catalogue (packages/core/src/errors.ts)', () => {
  it('lists only codes that some module raises', () => {
    const raised = new Set(sources.flatMap(({ text }) => text.match(CODE) ?? []));
    const unused = Object.keys(ERROR_CATALOGUE).filter((code) => !raised.has(code));
    expect(unused).toEqual([]);
  });

  it('has every code that the code and the documents mention', () => {
    const catalogued = new Set(Object.keys(ERROR_CATALOGUE));
    const unknown = [...sources, ...documents].flatMap(({ file, text }) =>
      (text.match(CODE) ?? [])
        .filter((code) => !catalogued.has(code))
        .map((code) => `${file}: ${code}`),
    );
    expect(unknown).toEqual([]);
  });
});
