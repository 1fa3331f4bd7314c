import { RelayError } from '@s3relay/core';
import { CliError, ExitCode } from './exit-codes.js';

/**
 * A service that could not start, as one line and the exit code scripts and orchestrators read:
 * a setting of this process is wrong (an invalid variable, an address in use, a script that is
 * not executable, queues declared with other arguments) → 2; the broker or an S3 side refused
 * what it was given (credentials, vhost, permissions, a bucket) → 3; anything else → 1.
 */
export function startFailure(service: string, err: unknown): CliError {
  const message = `${service} cannot start: ${err instanceof Error ? err.message : String(err)}`;
  if (!(err instanceof RelayError))
    return new CliError(ExitCode.problemsFound, message, { cause: err });
  const isOwnSetting =
    err.code === 'RELAY_CONFIG_INVALID' || err.code === 'RELAY_AMQP_TOPOLOGY_MISMATCH';
  return new CliError(isOwnSetting ? ExitCode.usage : ExitCode.unavailable, message, {
    cause: err,
  });
}
