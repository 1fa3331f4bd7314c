import type * as EmulatorPackage from '@s3relay/emulator';
import { CliError, ExitCode } from '../exit-codes.js';

/** What `s3relay dev` uses of the emulator. */
export type StartEmulator = typeof EmulatorPackage.startEmulator;

/**
 * Loads the emulator when `s3relay dev` runs, and only then. The emulator (and the s3rver under
 * it) is a development dependency, absent from a production install and the image
 * (docs/ARCHITECTURE.md, "Why the emulator is a development dependency"), so no other command
 * may import it.
 */
export async function loadEmulator(): Promise<StartEmulator> {
  try {
    return (await import('@s3relay/emulator')).startEmulator;
  } catch (err) {
    if (!isEmulatorMissing(err)) throw err;
    throw new CliError(
      ExitCode.usage,
      's3relay dev needs the emulator (@s3relay/emulator and s3rver), a development dependency ' +
        'that this installation does not have: a production install (npm ci --omit=dev) or the ' +
        'image leaves it out. Run it from a clone of the repository after `npm ci` (`npm start`).',
      { cause: err },
    );
  }
}

/** The emulator's package, its compiled code or s3rver could not be found. */
function isEmulatorMissing(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  return (
    code === 'ERR_MODULE_NOT_FOUND' &&
    typeof message === 'string' &&
    /emulator|s3rver/.test(message)
  );
}
