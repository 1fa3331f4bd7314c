import { readFileSync } from 'node:fs';
import { ERROR_CATALOGUE, type ErrorSpec } from '@s3relay/core';

/** The text between `<!-- name:start -->` and `<!-- name:end -->` in a Markdown document. */
export function readSection(markdown: string, name: string): string {
  const start = markdown.indexOf(`<!-- ${name}:start -->`);
  const end = markdown.indexOf(`<!-- ${name}:end -->`);
  if (start < 0 || end < start) throw new Error(`no ${name} section`);
  return markdown.slice(start + `<!-- ${name}:start -->`.length, end).trim();
}

/** The document with the section's content replaced. */
export function replaceSection(markdown: string, name: string, content: string): string {
  const marker = `<!-- ${name}:start -->`;
  const start = markdown.indexOf(marker) + marker.length;
  const end = markdown.indexOf(`<!-- ${name}:end -->`);
  if (start < marker.length || end < start) throw new Error(`README has no ${name} section`);
  return `${markdown.slice(0, start)}\n\n${content.trim()}\n\n${markdown.slice(end)}`;
}

/** Each runtime's machine line, runs line and results table of `bench/RESULTS.md`. */
export function benchSummary(results: string): string {
  return readSection(results, 'bench-summary');
}

/** The README's error table: every code of the catalogue (packages/core/src/errors.ts). */
export function errorTableMarkdown(): string {
  const escape = (text: string) => text.replace(/\|/g, '\\|');
  const lines = ['| code | retried | HTTP | what it means | what to do |', '|---|---|---|---|---|'];
  for (const [code, spec] of Object.entries(ERROR_CATALOGUE) as [string, ErrorSpec][]) {
    const status = spec.httpStatus === undefined ? '' : String(spec.httpStatus);
    lines.push(
      `| \`${code}\` | ${spec.retryable ? 'yes' : 'no'} | ${status} | ${escape(spec.meaning)} | ${escape(spec.action)} |`,
    );
  }
  return lines.join('\n');
}

/**
 * Every generated section of the README with its content: the configuration table from the
 * schema, the error table from the catalogue, the fault suite's last recorded figures and the
 * benchmarks' last table.
 */
export function generatedSections(configTable: string): Record<string, string> {
  const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
  return {
    'config-table': configTable,
    'error-table': errorTableMarkdown(),
    'fault-figures': readSection(read('test/faults/RESULTS.md'), 'figures'),
    'cluster-fault-figures': readSection(read('test/faults/RESULTS.md'), 'cluster-figures'),
    'bench-table': benchSummary(read('bench/RESULTS.md')),
  };
}
