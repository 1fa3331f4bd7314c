import { cpuSeconds, runToEnd } from './processes.js';
import { S3_CREDENTIALS, S3_REGION } from './s3-server.js';

/** rclone's configuration of both servers as environment variables (remotes `src` and `dst`). */
export function rcloneEnv(
  source: { endpoint: string },
  backup: { endpoint: string },
): Record<string, string | undefined> {
  const remote = (name: string, endpoint: string) => ({
    [`RCLONE_CONFIG_${name}_TYPE`]: 's3',
    [`RCLONE_CONFIG_${name}_PROVIDER`]: 'Other',
    [`RCLONE_CONFIG_${name}_ENDPOINT`]: endpoint,
    [`RCLONE_CONFIG_${name}_REGION`]: S3_REGION,
    [`RCLONE_CONFIG_${name}_ACCESS_KEY_ID`]: S3_CREDENTIALS.accessKeyId,
    [`RCLONE_CONFIG_${name}_SECRET_ACCESS_KEY`]: S3_CREDENTIALS.secretAccessKey,
    [`RCLONE_CONFIG_${name}_FORCE_PATH_STYLE`]: 'true',
  });
  return {
    ...remote('SRC', source.endpoint),
    ...remote('DST', backup.endpoint),
    // rclone's S3 client refuses a custom CA bundle with its own transport; loopback HTTP needs none.
    AWS_CA_BUNDLE: undefined,
  };
}

/** rclone's version line, or undefined when it is not installed (bench/setup.sh installs it). */
export async function rcloneVersion(): Promise<string | undefined> {
  const found = await runToEnd('rclone', ['version']).catch(() => undefined);
  return found?.code === 0 ? found.stdout.split('\n')[0]?.trim() : undefined;
}

export interface RcloneRun {
  readonly transfers: number;
  /** rclone's own CPU seconds (user + system). */
  readonly cpuSeconds: number;
  readonly elapsedMs: number;
  readonly objectsPerSecond: number;
  /** Objects in the destination afterwards. */
  readonly copied: number;
}

export interface RcloneCopyOptions {
  readonly source: { endpoint: string };
  readonly backup: { endpoint: string };
  /** `bucket` or `bucket/prefix` on the source. */
  readonly from: string;
  /** `bucket/prefix` on the backup. */
  readonly to: string;
  readonly transfers: number;
  /** Objects under `from`, for the rate. */
  readonly objects: number;
}

/** `rclone copy` with `transfers` transfers and as many checkers; its CPU, rate and copies. */
export async function rcloneCopy(options: RcloneCopyOptions): Promise<RcloneRun> {
  const env = rcloneEnv(options.source, options.backup);
  const transfers = String(options.transfers);
  // rclone's CPU shows in this process's children's time (cutime) once it has been reaped; this
  // process itself idles meanwhile.
  const before = cpuSeconds(process.pid);
  const started = Date.now();
  const run = await runToEnd(
    'rclone',
    [
      'copy',
      `src:${options.from}`,
      `dst:${options.to}`,
      '--transfers',
      transfers,
      '--checkers',
      transfers,
      '--s3-no-check-bucket',
      '--stats-one-line',
      '--stats',
      '0',
      '-v',
    ],
    env,
  );
  const elapsedMs = Date.now() - started;
  const rcloneCpu = cpuSeconds(process.pid) - before;
  if (run.code !== 0) {
    throw new Error(`rclone copy failed (${run.code}):\n${run.stderr.slice(-2000)}`);
  }
  const listed = await runToEnd('rclone', ['lsf', `dst:${options.to}`, '-R', '--files-only'], env);
  return {
    transfers: options.transfers,
    cpuSeconds: rcloneCpu,
    elapsedMs,
    objectsPerSecond: options.objects / (elapsedMs / 1000),
    copied: listed.stdout.split('\n').filter((line) => line !== '').length,
  };
}
