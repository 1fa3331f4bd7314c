import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES } from '@s3relay/core';
import { configTableMarkdown } from '@s3relay/cli';
import { generatedSections, readSection } from './readme-sections.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('starts with the two commands', () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    expect(firstBlock).toMatch(/^npm install && npm start/m);
    expect(firstBlock).toMatch(/^npm test/m);
  });

  it.each(Object.entries(generatedSections(configTableMarkdown())))(
    'shows the %s as its source has it (npm run readme)',
    (name, content) => {
      expect(readSection(readme, name)).toBe(content.trim());
    },
  );

  it('documents every configuration variable', () => {
    for (const name of Object.keys(CONFIG_VARIABLES)) expect(readme).toContain(`\`${name}\``);
  });

  it('names only npm scripts that exist', () => {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      scripts: Record<string, string>;
    };
    const named = [...readme.matchAll(/npm run ([a-z:]+)/g)].map((match) => match[1] ?? '');
    expect(named.length).toBeGreaterThan(0);
    for (const script of named) expect(Object.keys(pkg.scripts)).toContain(script);
  });
});
