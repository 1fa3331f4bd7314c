import { RelayError } from '@s3relay/core';
import { classifyS3Error } from '@s3relay/core/s3';
import { CliError, ExitCode } from '../exit-codes.js';

/** Maps a failure of an S3-walking command to an exit code and a message for the operator. */
export function s3Failure(err: unknown): unknown {
  if (err instanceof CliError) return err;
  const classified = err instanceof RelayError ? err : classifyS3Error(err);
  const code = classified.retryable ? ExitCode.unavailable : ExitCode.problemsFound;
  return new CliError(code, `${classified.code}: ${classified.message}`, { cause: err });
}
