import { createServer } from 'node:net';
import { CliError, ExitCode } from '../exit-codes.js';

/** A port the local stack listens on: what listens there and the flag that moves it. */
export interface StackPort {
  readonly port: number;
  readonly what: string;
  readonly flag: string;
}

/**
 * Thrown as a usage error naming the first port of the stack that something already listens on,
 * and what to do about it, before anything is started: otherwise a service would fail half-way
 * through the start with its own stack trace (or, worse, the webhook would be registered with
 * whatever still answers on the ingress's port).
 */
export async function assertPortsFree(host: string, ports: readonly StackPort[]): Promise<void> {
  for (const { port, what, flag } of ports) {
    if (await isFree(host, port)) continue;
    throw new CliError(
      ExitCode.usage,
      `port ${port} (${what}) is taken on ${host}, perhaps by an earlier \`npm start\` still ` +
        `running: stop that, or choose another port with \`npm start -- ${flag} <port>\``,
    );
  }
}

function isFree(host: string, port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve(false);
      else reject(err);
    });
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
