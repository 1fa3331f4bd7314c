import { readFileSync } from 'node:fs';

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

/** The machine line, the runs line and the results table of `bench/RESULTS.md`. */
export function benchSummary(results: string): string {
  const lines = results.split('\n');
  const machine = lines.find((line) => line.startsWith('Machine:')) ?? '';
  const runs = lines.find((line) => line.startsWith('Runs')) ?? '';
  const first = lines.findIndex((line) => line.startsWith('| benchmark'));
  if (first < 0) throw new Error('bench/RESULTS.md has no results table');
  const end = lines.findIndex((line, index) => index > first && !line.startsWith('|'));
  return [machine, '', runs, '', ...lines.slice(first, end < 0 ? undefined : end)].join('\n');
}

/**
 * Every generated section of the README with its content: the configuration table from the
 * schema, the fault suite's last recorded figures and the benchmarks' last table.
 */
export function generatedSections(configTable: string): Record<string, string> {
  const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
  return {
    'config-table': configTable,
    'fault-figures': readSection(read('test/faults/RESULTS.md'), 'figures'),
    'bench-table': benchSummary(read('bench/RESULTS.md')),
  };
}
