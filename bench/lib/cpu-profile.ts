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
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Where a sample's function comes from, coarsely: which library or part of Node. */
function origin(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : 'native code and syscalls';
  if (/@smithy|@aws-sdk|@aws-crypto/.test(url)) return 'AWS SDK';
  if (/amqplib/.test(url)) return 'amqplib';
  if (/winston|logform|safe-stable-stringify|triple-beam/.test(url)) return 'logging';
  if (/prom-client/.test(url)) return 'prom-client';
  if (/zod/.test(url)) return 'zod';
  if (/express|router|body-parser|raw-body|forwarded|proxy-addr/.test(url)) return 'express';
  if (/@s3relay|\/packages\//.test(url)) return 's3relay';
  if (url.startsWith('node:')) return 'Node.js core (JS)';
  return 'other modules';
}

/**
 * For each profile in `directory`: its busy time by origin (AWS SDK, Node core, syscalls, GC,
 * s3relay, …) and the functions with the most self time, as text.
 */
export async function summarizeProfiles(directory: string, top = 15): Promise<string> {
  const files = (await readdir(directory)).filter((file) => file.endsWith('.cpuprofile')).sort();
  const parts: string[] = [];
  for (const file of files) {
    const profile = JSON.parse(await readFile(join(directory, file), 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    const selfMs = new Map<string, number>();
    const originMs = new Map<string, number>();
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
      const from = frame === undefined ? '?' : origin(frame.url, frame.functionName);
      originMs.set(from, (originMs.get(from) ?? 0) + ms);
    });
    const busyMs = totalMs - (originMs.get('(idle)') ?? 0);
    originMs.delete('(idle)');
    parts.push(`${file}: ${Math.round(busyMs)} ms busy of ${Math.round(totalMs)} ms sampled`);
    parts.push(
      `  by origin: ${[...originMs]
        .sort((a, b) => b[1] - a[1])
        .map(([from, ms]) => `${from} ${((100 * ms) / busyMs).toFixed(1)} %`)
        .join(', ')}`,
    );
    const busiest = [...selfMs].filter(([where]) => !where.startsWith('(idle)'));
    for (const [where, ms] of busiest.sort((a, b) => b[1] - a[1]).slice(0, top)) {
      parts.push(
        `  ${ms.toFixed(0).padStart(7)} ms ${((100 * ms) / totalMs).toFixed(1).padStart(5)} %  ${where}`,
      );
    }
  }
  return parts.join('\n');
}
