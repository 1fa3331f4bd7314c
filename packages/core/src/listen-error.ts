import { ConfigError } from './errors.js';
import type { VariableName } from './config.js';

/** Where a server was told to listen, and the variables that said so. */
export interface ListenTarget {
  readonly host: string;
  readonly port: number;
  readonly hostVariable: VariableName;
  readonly portVariable: VariableName;
}

/**
 * A failure to listen, as a {@link ConfigError} that names the variable to change and its value
 * when the address is the problem (in use, privileged, not on this machine); any other error
 * unchanged.
 */
export function listenError(err: unknown, target: ListenTarget): Error {
  const code = (err as { code?: unknown } | null)?.code;
  const { host, port, hostVariable, portVariable } = target;
  const at = `${host}:${port}`;
  const because = (message: string) => new ConfigError(message, { cause: err });
  switch (code) {
    case 'EADDRINUSE':
      return because(
        `${portVariable}=${port}: ${at} is already in use (another s3relay still running, or another program: ss -ltnp 'sport = :${port}'); stop it or choose another port`,
      );
    case 'EACCES':
      return because(
        `${portVariable}=${port}: not allowed to listen on ${at} (ports below 1024 need privileges); choose a port above 1023`,
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return because(
        `${hostVariable}=${host}: not an address of this machine; use 127.0.0.1, 0.0.0.0 or one of its own addresses`,
      );
    default:
      return err instanceof Error ? err : new Error(String(err));
  }
}
