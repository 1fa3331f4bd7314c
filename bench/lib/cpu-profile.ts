import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** The variable through which `--cpu-prof` reaches the helpers that start s3relay processes. */
export const CPU_PROFILE_DIR_ENV = 'S3RELAY_BENCH_CPU_PROF_DIR';

/**
 * Node flags that make an s3relay child process write a V8 CPU profile on exit, when the run
 * was started with `--cpu-prof`; none otherwise.
 */
export function profileFlags(): string[] {
  const directory = process.env[CPU_PROFILE_DIR_ENV];
  return directory === undefined || directory === ''
    ? []
    : ['--cpu-prof', `--cpu-prof-dir=${directory}`];
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

type Frame = ProfileNode['callFrame'];

/**
 * The categories of #19, first match wins, tried on the sampled function and then on each caller
 * up the stack: a sample in node:crypto under the SDK's signer is signing, one in node:net under
 * amqplib is amqplib, one in node:net under Express is the HTTP server.
 */
const CATEGORIES: readonly (readonly [string, (frame: Frame) => boolean])[] = [
  [
    'signing',
    ({ url, functionName }) =>
      /signature-v4|@aws-crypto|hash-node/.test(url) ||
      (/@smithy|@aws-sdk/.test(url) && /sha256|hmac|hash/i.test(functionName)),
  ],
  [
    'XML',
    ({ url, functionName }) =>
      /fast-xml-parser|xml-builder|\/xml\//i.test(url) || /xml/i.test(functionName),
  ],
  ['logging', ({ url }) => /winston|logform|safe-stable-stringify|triple-beam|log-sink/.test(url)],
  ['metrics', ({ url }) => /prom-client/.test(url)],
  ['amqplib', ({ url }) => /amqplib|buffer-more-ints/.test(url)],
  ['JSON', ({ url, functionName }) => url === '' && /^(parse|stringify)$/.test(functionName)],
  ['zod (task and event validation)', ({ url }) => /\/zod\//.test(url)],
  ['SDK HTTP handler', ({ url }) => /node-http-handler/.test(url)],
  ['SDK middleware and serde', ({ url }) => /@smithy|@aws-sdk/.test(url)],
  [
    'Express and its body parser',
    ({ url }) => /express|router|body-parser|raw-body|proxy-addr|forwarded/.test(url),
  ],
  ['s3relay', ({ url }) => /@s3relay|\/packages\//.test(url)],
  [
    'Node HTTP, sockets and streams',
    ({ url }) => /^node:(_http|http|net|internal\/(http|streams|stream_base))/.test(url),
  ],
];

/** The category of the sample at `id`: its own frame's, else its nearest caller's. */
function categorize(
  id: number,
  byId: ReadonlyMap<number, ProfileNode>,
  parent: ReadonlyMap<number, number>,
): string {
  const leaf = byId.get(id)?.callFrame;
  if (leaf === undefined) return '?';
  if (leaf.functionName === '(garbage collector)') return 'GC';
  if (leaf.functionName === '(idle)' || leaf.functionName === '(program)') return leaf.functionName;
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const frame = byId.get(at)?.callFrame;
    if (frame === undefined) break;
    const found = CATEGORIES.find(([, test]) => test(frame));
    if (found !== undefined) return found[0];
  }
  return leaf.url.startsWith('node:') ? 'Node.js core, other' : 'other';
}

/**
 * For each profile in `directory`: its busy time by category (SDK middleware and serde, signing,
 * XML, logging, metrics, JSON, amqplib, …) and the functions with the most self time, as text.
 */
export async function summarizeProfiles(directory: string, top = 15): Promise<string> {
  const files = (await readdir(directory)).filter((file) => file.endsWith('.cpuprofile')).sort();
  const parts: string[] = [];
  for (const file of files) {
    const profile = JSON.parse(await readFile(join(directory, file), 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    const parent = new Map<number, number>();
    for (const node of profile.nodes)
      for (const child of node.children ?? []) parent.set(child, node.id);
    const category = new Map<number, string>();
    const selfMs = new Map<string, number>();
    const categoryMs = new Map<string, number>();
    let totalMs = 0;
    profile.samples.forEach((id, index) => {
      const ms = (profile.timeDeltas[index] ?? 0) / 1000;
      totalMs += ms;
      const frame = byId.get(id)?.callFrame;
      const where =
        frame === undefined
          ? '?'
          : `${frame.functionName || '(anonymous)'} ${frame.url.split('/').slice(-3).join('/')}:${frame.lineNumber + 1}`;
      selfMs.set(where, (selfMs.get(where) ?? 0) + ms);
      let of = category.get(id);
      if (of === undefined) {
        of = categorize(id, byId, parent);
        category.set(id, of);
      }
      categoryMs.set(of, (categoryMs.get(of) ?? 0) + ms);
    });
    const busyMs = totalMs - (categoryMs.get('(idle)') ?? 0);
    categoryMs.delete('(idle)');
    parts.push(`${file}: ${Math.round(busyMs)} ms busy of ${Math.round(totalMs)} ms sampled`);
    parts.push(
      `  by category: ${[...categoryMs]
        .sort((a, b) => b[1] - a[1])
        .map(([of, ms]) => `${of} ${((100 * ms) / busyMs).toFixed(1)} %`)
        .join(', ')}`,
    );
    const busiest = [...selfMs].filter(([where]) => !where.startsWith('(idle)'));
    for (const [where, ms] of busiest.sort((a, b) => b[1] - a[1]).slice(0, top)) {
      parts.push(
        `  ${ms.toFixed(0).padStart(7)} ms ${((100 * ms) / busyMs).toFixed(1).padStart(5)} %  ${where}`,
      );
    }
  }
  return parts.join('\n');
}
