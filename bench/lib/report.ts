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

/** The results of one runtime: `node24` for the runs on Node 24.x (bench/results/node24/). */
export function runtimeOf(node: string): string {
  return `node${node.replace(/^v/, '').split('.')[0] ?? ''}`;
}

/** Writes `bench/results/<runtime>/<name>.json`: each runtime keeps its last run of each benchmark. */
export async function writeResult(result: BenchResult): Promise<string> {
  const directory = `${RESULTS_DIR}${runtimeOf(result.machine.node)}/`;
  await mkdir(directory, { recursive: true });
  const path = `${directory}${result.name}.json`;
  await writeFile(path, `${JSON.stringify(result, null, 2)}\n`);
  return path;
}

/** The results of one runtime. */
export interface RuntimeResults {
  readonly runtime: string;
  readonly results: readonly BenchResult[];
}

/**
 * Every result file present, by runtime (the newest Node first), each in `order` (unknown names
 * last).
 */
export async function readResults(order: readonly string[]): Promise<RuntimeResults[]> {
  let runtimes: string[] = [];
  try {
    runtimes = (await readdir(RESULTS_DIR, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory() && /^node\d+$/.test(entry.name))
      .map((entry) => entry.name);
  } catch {
    return [];
  }
  const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
  const all = await Promise.all(
    runtimes.map(async (runtime) => {
      const directory = `${RESULTS_DIR}${runtime}/`;
      const files = (await readdir(directory)).filter((file) => file.endsWith('.json'));
      const results = await Promise.all(
        files.map(
          async (file) => JSON.parse(await readFile(`${directory}${file}`, 'utf8')) as BenchResult,
        ),
      );
      return { runtime, results: results.sort((a, b) => rank(a.name) - rank(b.name)) };
    }),
  );
  const major = (runtime: string) => Number(runtime.slice('node'.length));
  return all
    .filter((entry) => entry.results.length > 0)
    .sort((a, b) => major(b.runtime) - major(a.runtime));
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

/** The section of RESULTS.md that `npm run bench` keeps as it was: the profiles' findings. */
export const FINDINGS = 'findings';

/**
 * bench/RESULTS.md: for each runtime its machine, runs and table (between the `bench-summary`
 * markers, which the README copies), the hand-written findings (`findings`, carried over from
 * the file as it was), then each benchmark's diagnosis and notes.
 */
export function resultsMarkdown(byRuntime: readonly RuntimeResults[], findings: string): string {
  // Load and free memory change from one benchmark to the next; the rest describes the machine.
  const describe = ({ loadAverage1m: _load, freeMemoryGiB: _free, ...machine }: MachineInfo) =>
    `${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, ${machine.os}, ` +
    `Node ${machine.node}, RabbitMQ ${machine.rabbitmq}`;
  const label = (runtime: string) =>
    runtime === 'node24'
      ? 'Node 24 (the runtime; `scripts/node24.sh npm run bench`)'
      : `Node ${runtime.slice(4)}`;
  const summary: string[] = [];
  for (const { runtime, results } of byRuntime) {
    const machines = [...new Set(results.map((result) => describe(result.machine)))];
    summary.push(
      `**${label(runtime)}**`,
      '',
      ...machines.map((machine) => `Machine: ${machine}.`),
      '',
      `Runs (start, duration, 1-minute load average at the start; ${results[0]?.machine.cores ?? 2} ` +
        `cores, so above that someone else was busy too): ${results
          .map(
            (result) =>
              `${result.name} ${result.startedAt} (${result.durationSeconds} s, load ${result.machine.loadAverage1m})`,
          )
          .join(', ')}.`,
      '',
      markdownTable(results),
      '',
    );
  }
  const parts = [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (see [README.md](README.md) for what each benchmark measures and',
    'against which ceiling). Every ratio compares two figures measured in the same run on the',
    'same machine; the absolute figures are only comparable between runs on similar machines.',
    'Each runtime keeps the last run of each benchmark on it.',
    '',
    '<!-- bench-summary:start -->',
    '',
    ...summary,
    '<!-- bench-summary:end -->',
    '',
    `<!-- ${FINDINGS}:start -->`,
    '',
    findings.trim(),
    '',
    `<!-- ${FINDINGS}:end -->`,
    '',
  ];
  for (const { runtime, results } of byRuntime) {
    for (const result of results) {
      if (result.diagnosis.length === 0 && result.notes.length === 0) continue;
      parts.push(`## ${result.name} on ${label(runtime).split(' (')[0]}: ${result.title}`, '');
      for (const line of result.diagnosis) parts.push(`- ${line}`);
      for (const line of result.notes) parts.push(`- ${line}`);
      parts.push('');
    }
  }
  return parts.join('\n');
}
