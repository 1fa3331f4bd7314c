import { S3ServiceException } from '@aws-sdk/client-s3';
import { RelayError } from '@s3relay/core';
import { classifyS3Error } from '@s3relay/core/s3';
import { CliError, ExitCode } from '../exit-codes.js';

/**
 * Maps a failure of an S3-walking command to an exit code and a message for the operator:
 * "unavailable" (3) only when S3 could not be reached or answered with a server error, so that
 * a store that lacks an operation (501 NotImplemented) is not reported as down.
 */
export function s3Failure(err: unknown): unknown {
  if (err instanceof CliError) return err;
  const classified = err instanceof RelayError ? err : classifyS3Error(err);
  const notImplemented = S3ServiceException.isInstance(err) && err.$metadata.httpStatusCode === 501;
  const code =
    classified.retryable && !notImplemented ? ExitCode.unavailable : ExitCode.problemsFound;
  return new CliError(code, `${classified.code}: ${classified.message}`, { cause: err });
}
