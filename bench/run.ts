/**
 * `npm run bench [-- --only <name>[,<name>…]] [--cpu-prof]`: runs the benchmarks in order, writes
 * bench/results/<name>.json for each, prints the summary table and rewrites bench/RESULTS.md from
 * every result file present. `--report` runs nothing: it rewrites RESULTS.md and prints the table
 * of the result files present.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { format, resolveConfig } from 'prettier';
import { AMQP_URL } from './lib/broker.js';
import { CPU_PROFILE_DIR_ENV, summarizeProfiles } from './lib/cpu-profile.js';
import { readSection } from '../test/unit/readme-sections.js';
import { machineInfo } from './lib/machine.js';
import { childLogDirectory } from './lib/processes.js';
import {
  FINDINGS,
  RESULTS_MD,
  readResults,
  resultsMarkdown,
  textTable,
  writeResult,
  type BenchResult,
  type Benchmark,
} from './lib/report.js';
import { ingressBenchmark } from './ingress.js';
import { lagBenchmark } from './lag.js';
import { largeObjectsBenchmark } from './large-objects.js';
import { restoreBenchmark } from './restore.js';
import { resyncBenchmark } from './resync.js';
import { scriptBenchmark } from './script.js';
import { smallObjectsBenchmark } from './small-objects.js';

// As the CLI does: the SDK's reminder about its future Node 22 requirement would open every log.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const BENCHMARKS: readonly Benchmark[] = [
  ingressBenchmark,
  smallObjectsBenchmark,
  largeObjectsBenchmark,
  lagBenchmark,
  scriptBenchmark,
  resyncBenchmark,
  restoreBenchmark,
];
const ORDER = BENCHMARKS.map((benchmark) => benchmark.name);

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    'cpu-prof': { type: 'boolean' },
    report: { type: 'boolean' },
  },
});
// --cpu-prof: the ingress and workers write V8 CPU profiles, summarized at the end.
const profileDirectory =
  values['cpu-prof'] === true
    ? await mkdtemp(join(tmpdir(), 's3relay-bench-profiles-'))
    : undefined;
if (profileDirectory !== undefined) process.env[CPU_PROFILE_DIR_ENV] = profileDirectory;
const only = values.only?.split(',').map((name) => name.trim());
const unknown = (only ?? []).filter((name) => !ORDER.includes(name));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark(s) ${unknown.join(', ')}; one of ${ORDER.join(', ')}\n`);
  process.exit(2);
}

const log = (message: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
const started = Date.now();
const results = new Map<string, BenchResult>();
let failed = false;
for (const benchmark of BENCHMARKS) {
  if (values.report === true) break;
  if (only !== undefined && !only.includes(benchmark.name)) continue;
  const machine = await machineInfo(AMQP_URL);
  const startedAt = new Date();
  log(`${benchmark.name}: ${benchmark.title}`);
  try {
    const outcome = await benchmark.run({
      machine,
      results,
      log: (message) => log(`${benchmark.name}: ${message}`),
    });
    const result: BenchResult = {
      name: benchmark.name,
      title: benchmark.title,
      startedAt: startedAt.toISOString(),
      durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
      machine,
      ...outcome,
    };
    results.set(benchmark.name, result);
    const path = await writeResult(result);
    log(`${benchmark.name}: done in ${result.durationSeconds} s, ${path}`);
    for (const line of result.diagnosis) log(`${benchmark.name}: ${line}`);
  } catch (err) {
    failed = true;
    log(
      `${benchmark.name} FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
  }
}

const all = await readResults(ORDER);
/** The hand-written findings of RESULTS.md as it was (none before the first run). */
async function currentFindings(): Promise<string> {
  try {
    return readSection(await readFile(RESULTS_MD, 'utf8'), FINDINGS);
  } catch {
    return '';
  }
}
const findings = await currentFindings();
// Formatted as `npm run format:check` expects it.
const prettierOptions = (await resolveConfig(RESULTS_MD)) ?? {};
await writeFile(
  RESULTS_MD,
  await format(resultsMarkdown(all, findings), { ...prettierOptions, filepath: RESULTS_MD }),
);
const shown =
  values.report === true ? all.flatMap((entry) => entry.results) : [...results.values()];
process.stdout.write(`\n${textTable(shown)}\n\n`);
if (profileDirectory !== undefined) {
  process.stdout.write(
    `CPU profiles (${profileDirectory}):\n${await summarizeProfiles(profileDirectory)}\n\n`,
  );
}
log(`total ${Math.round((Date.now() - started) / 1000)} s; table of every result in ${RESULTS_MD}`);
log(`the processes' output: ${childLogDirectory()}`);
process.exit(failed ? 1 : 0);
