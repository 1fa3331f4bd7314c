import { PassThrough } from 'node:stream';
import { runProgram } from '@s3relay/cli';

/** What one in-process `s3relay` run did. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `s3relay <argv>` in this process with exactly `env`, capturing its output. */
export async function cli(argv: readonly string[], env: Record<string, string>): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const collect = (stream: PassThrough) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    return new Promise<string>((resolve) =>
      stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8'))),
    );
  };
  const [out, err] = [collect(stdout), collect(stderr)];
  const code = await runProgram(argv, { env, stdout, stderr });
  stdout.end();
  stderr.end();
  return { code, stdout: await out, stderr: await err };
}

/** `--json` output, parsed; fails the test with the output when it is not JSON. */
export function json<T>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${run.code}):\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}
