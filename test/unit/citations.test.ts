import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The repository explains itself: what its code and documents cite is in the repository, and
// the sections of docs/ARCHITECTURE.md they cite exist.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ARCHITECTURE = 'docs/ARCHITECTURE.md';

/** Every tracked text file, with its content. */
function trackedTexts(): { file: string; text: string }[] {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((file) => file !== '' && existsSync(path.join(ROOT, file)));
  const texts: { file: string; text: string }[] = [];
  for (const file of files) {
    const buffer = readFileSync(path.join(ROOT, file));
    if (buffer.includes(0)) continue; // binary
    texts.push({ file, text: buffer.toString('utf8') });
  }
  return texts;
}

const texts = trackedTexts();

/** Lines of `text` (1-based) that match `pattern`. */
function linesMatching(text: string, pattern: RegExp): number[] {
  return text.split('\n').flatMap((line, index) => (pattern.test(line) ? [index + 1] : []));
}

describe('citations', () => {
  it('reads the tracked files (so the checks below see something)', () => {
    const names = texts.map((entry) => entry.file);
    expect(names).toContain(ARCHITECTURE);
    expect(names).toContain('packages/core/src/errors.ts');
  });

  it('no tracked file cites a document outside the repository', () => {
    // Spelled in pieces so that this file does not cite them itself.
    const outside = new RegExp(
      ['DESIGN', 'STYLE'].map((name) => `\\b${name}\\.md\\b`).join('|') + '|\\.\\./' + 'shared',
    );
    const offenders = texts.flatMap(({ file, text }) =>
      linesMatching(text, outside).map((line) => `${file}:${line}`),
    );
    expect(offenders).toEqual([]);
  });

  it(`every section of ${ARCHITECTURE} that a file cites exists`, () => {
    const document = readFileSync(path.join(ROOT, ARCHITECTURE), 'utf8');
    const headings = new Set(
      [...document.matchAll(/^#{2,4} (.+)$/gm)].map((match) => (match[1] ?? '').trim()),
    );
    const citations = texts.flatMap(({ file, text }) =>
      [...text.matchAll(/docs\/ARCHITECTURE\.md, "([^"]+)"/g)].map((match) => ({
        file,
        // A citation may wrap inside a comment: ` * `, `// ` or `# ` starts its next line.
        section: (match[1] ?? '').replace(/\s*\n\s*(?:\*|\/\/|#)?\s*/g, ' ').trim(),
      })),
    );
    expect(citations.length).toBeGreaterThan(0);
    const dangling = citations.filter(({ section }) => !headings.has(section));
    expect(dangling).toEqual([]);
  });

  it(`every repository path ${ARCHITECTURE} names exists`, () => {
    const document = readFileSync(path.join(ROOT, ARCHITECTURE), 'utf8');
    const paths = [...document.matchAll(/`((?:packages|test|docs|deploy|scripts)\/[^`\s]+)`/g)].map(
      (match) => match[1] ?? '',
    );
    expect(paths.length).toBeGreaterThan(10);
    expect(paths.filter((name) => !existsSync(path.join(ROOT, name)))).toEqual([]);
  });
});
