import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { MachineInfo } from './machine.js';

export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));
export const RESULTS_MD = fileURLToPath(new URL('../RESULTS.md', import.meta.url));

/** Whether a row meets its target; `info` rows have none. */
export type Status = 'met' | 'missed' | 'info';

/** One line of the summary table: a figure of s3relay, its ceiling, and the ratio. */
export interface SummaryRow {
  readonly measure: string;
  /** s3relay's figure. */
  readonly value: string;
  /** The ceiling's figure, measured in the same run ('' when the row has none). */
  readonly ceiling: string;
  readonly ratio: string;
  readonly target: string;
  readonly status: Status;
}

/** What a benchmark returns. */
export interface BenchOutcome {
  /** Every knob the run used (counts, concurrency, sizes, durations). */
  readonly settings: Record<string, unknown>;
  /** Every figure measured, raw, for whoever wants more than the table. */
  readonly measurements: Record<string, unknown>;
  readonly rows: readonly SummaryRow[];
  /** Where the time goes: requests per object, time in the broker and in S3, CPU, event-loop delay. */
  readonly diagnosis: readonly string[];
  readonly notes: readonly string[];
}

/** A benchmark's result file, `bench/results/<name>.json`. */
export interface BenchResult extends BenchOutcome {
  readonly name: string;
  readonly title: string;
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly machine: MachineInfo;
}

export interface BenchContext {
  readonly machine: MachineInfo;
  /** Results of the benchmarks that already ran in this run. */
  readonly results: ReadonlyMap<string, BenchResult>;
  /** Progress for the operator (stderr). */
  readonly log: (message: string) => void;
}

export interface Benchmark {
  readonly name: string;
  readonly title: string;
  run(context: BenchContext): Promise<BenchOutcome>;
}

/** A row whose status is decided by `met` (undefined: not measurable, reported as missed). */
export function row(fields: Omit<SummaryRow, 'status'>, met: boolean | undefined): SummaryRow {
  return { ...fields, status: met === true ? 'met' : 'missed' };
}

/** A row without a target. */
export function infoRow(fields: Omit<SummaryRow, 'status' | 'target'>): SummaryRow {
  return { ...fields, target: '', status: 'info' };
}

export async function writeResult(result: BenchResult): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const path = `${RESULTS_DIR}${result.name}.json`;
  await writeFile(path, `${JSON.stringify(result, null, 2)}\n`);
  return path;
}

/** Every result file present, in `order` (unknown names last). */
export async function readResults(order: readonly string[]): Promise<BenchResult[]> {
  let files: string[] = [];
  try {
    files = (await readdir(RESULTS_DIR)).filter((file) => file.endsWith('.json'));
  } catch {
    return [];
  }
  const results = await Promise.all(
    files.map(
      async (file) => JSON.parse(await readFile(`${RESULTS_DIR}${file}`, 'utf8')) as BenchResult,
    ),
  );
  const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
  return results.sort((a, b) => rank(a.name) - rank(b.name));
}

const HEADERS = ['benchmark', 'measure', 's3relay', 'ceiling', 'ratio', 'target', ''] as const;

function cells(result: BenchResult, summary: SummaryRow, first: boolean): string[] {
  const mark = summary.status === 'met' ? 'met' : summary.status === 'missed' ? 'MISSED' : '';
  return [
    first ? result.name : '',
    summary.measure,
    summary.value,
    summary.ceiling,
    summary.ratio,
    summary.target,
    mark,
  ];
}

/** The summary as an aligned text table, for the terminal. */
export function textTable(results: readonly BenchResult[]): string {
  const rows = results.flatMap((result) =>
    result.rows.map((summary, i) => cells(result, summary, i === 0)),
  );
  const widths = HEADERS.map((header, column) =>
    Math.max(header.length, ...rows.map((cellsOfRow) => (cellsOfRow[column] ?? '').length)),
  );
  const line = (values: readonly string[]) =>
    values
      .map((value, column) => value.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(HEADERS), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join(
    '\n',
  );
}

/** The summary as a Markdown table. */
export function markdownTable(results: readonly BenchResult[]): string {
  const escape = (value: string) => value.replace(/\|/g, '\\|');
  const rows = results.flatMap((result) =>
    result.rows.map((summary, i) => cells(result, summary, i === 0).map(escape)),
  );
  return [
    `| ${HEADERS.join(' | ')} |`,
    `|${HEADERS.map(() => '---').join('|')}|`,
    ...rows.map((cellsOfRow) => `| ${cellsOfRow.join(' | ')} |`),
  ].join('\n');
}

/** bench/RESULTS.md: the machine, the table, and each benchmark's diagnosis and notes. */
export function resultsMarkdown(results: readonly BenchResult[]): string {
  // Load and free memory change from one benchmark to the next; the rest describes the machine.
  const describe = ({ loadAverage1m: _load, freeMemoryGiB: _free, ...machine }: MachineInfo) =>
    `${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, ${machine.os}, ` +
    `Node ${machine.node}, RabbitMQ ${machine.rabbitmq}`;
  const machines = [...new Set(results.map((result) => describe(result.machine)))];
  const parts = [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (see [README.md](README.md) for what each benchmark measures and',
    'against which ceiling). Every ratio compares two figures measured in the same run on the',
    'same machine; the absolute figures are only comparable between runs on similar machines.',
    '',
    ...machines.map((machine) => `Machine: ${machine}.`),
    '',
    `Runs (start, duration, 1-minute load average at the start): ${results
      .map(
        (result) =>
          `${result.name} ${result.startedAt} (${result.durationSeconds} s, load ${result.machine.loadAverage1m})`,
      )
      .join(', ')}.`,
    '',
    markdownTable(results),
    '',
  ];
  for (const result of results) {
    if (result.diagnosis.length === 0 && result.notes.length === 0) continue;
    parts.push(`## ${result.name}: ${result.title}`, '');
    for (const line of result.diagnosis) parts.push(`- ${line}`);
    for (const line of result.notes) parts.push(`- ${line}`);
    parts.push('');
  }
  return parts.join('\n');
}
