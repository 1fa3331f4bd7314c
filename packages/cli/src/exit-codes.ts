/**
 * Exit codes of the `s3relay` command, stable for scripts:
 * 0 success (for `verify`: source and backup are equal), 1 the command ran and found a problem
 * (differences, failures), 2 bad usage or configuration (for a service: an invalid variable, an
 * address in use, a script that is not executable), 3 the broker or an S3 endpoint could not be
 * reached or refused what it was given (credentials, vhost, permissions, a bucket), 130
 * interrupted.
 */
export const ExitCode = {
  ok: 0,
  problemsFound: 1,
  usage: 2,
  unavailable: 3,
  interrupted: 130,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Thrown by commands to end with a specific exit code and a message for the operator. */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly exitCode: ExitCode;

  constructor(exitCode: ExitCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}
