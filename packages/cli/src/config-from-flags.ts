import { ConfigError, loadConfig, type Config, type VariableName } from '@s3relay/core';
import { CliError, ExitCode } from './exit-codes.js';

/** Flag values that override environment variables; undefined means "not given". */
export type Overrides = Partial<Record<VariableName, string | undefined>>;

/**
 * The configuration from the environment with command-line flags on top (flags win).
 * Thrown as {@link CliError} with the usage exit code when anything is invalid.
 */
export function configFromFlags(env: NodeJS.ProcessEnv, overrides: Overrides): Config {
  const merged: NodeJS.ProcessEnv = { ...env };
  for (const [name, value] of Object.entries(overrides)) {
    if (value !== undefined) merged[name] = value;
  }
  try {
    return loadConfig(merged);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(ExitCode.usage, err.message, { cause: err });
    throw err;
  }
}
