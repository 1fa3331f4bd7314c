import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, SCRIPT_BASE_ENV } from '@s3relay/core';
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

  it('has the security section the ingress points to when it starts open, naming real variables', () => {
    const start = readme.indexOf('\n## Exposing the ingress\n');
    expect(start).toBeGreaterThan(0);
    const section = readme.slice(start + 1, readme.indexOf('\n## ', start + 1));
    const named = new Set(
      [...section.matchAll(/`([A-Z][A-Z0-9_]+)(?:=[^`]*)?`/g)].map((m) => m[1]),
    );
    for (const name of [
      'WEBHOOK_TOKEN',
      'SNS_TOPIC_ARNS',
      'SOURCE_BUCKETS',
      'ALLOWED_IPS',
      'TRUST_PROXY',
      'HTTP_METRICS_PORT',
      'HTTP_HEADERS_TIMEOUT_MS',
      'HTTP_REQUEST_TIMEOUT_MS',
      'HTTP_MAX_CONNECTIONS',
      'ACTION_SCRIPT_ENV',
    ]) {
      expect(named).toContain(name);
    }
    // Every other name is a variable of s3relay, an error code or one the script is given.
    const known = [...Object.keys(CONFIG_VARIABLES), ...SCRIPT_BASE_ENV];
    expect(
      [...named].filter((name) => !known.includes(name ?? '') && !/^RELAY_/.test(name ?? '')),
    ).toEqual([]);
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
