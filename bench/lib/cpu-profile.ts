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

/** The functions with the most self time of each profile in `directory`, as text. */
export async function summarizeProfiles(directory: string, top = 25): Promise<string> {
  const files = (await readdir(directory)).filter((file) => file.endsWith('.cpuprofile')).sort();
  const parts: string[] = [];
  for (const file of files) {
    const profile = JSON.parse(await readFile(join(directory, file), 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    const selfMs = new Map<string, number>();
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
    });
    parts.push(`${file}: ${Math.round(totalMs)} ms sampled`);
    for (const [where, ms] of [...selfMs].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      parts.push(
        `  ${ms.toFixed(0).padStart(7)} ms ${((100 * ms) / totalMs).toFixed(1).padStart(5)} %  ${where}`,
      );
    }
  }
  return parts.join('\n');
}
