import { createServer } from 'node:net';
import { readFile } from 'node:fs/promises';

/** A TCP port on 127.0.0.1 that was free a moment ago (for services that need a fixed port). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * True while some socket listens on the TCP port (any address), read from the kernel's tables
 * (Linux). Unlike trying to bind the port, a client connection that happens to use it as its
 * local port does not count: in a parallel test run, another test's outgoing connection may.
 */
export async function isListening(port: number): Promise<boolean> {
  const LISTEN = '0A';
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const lines = (await readFile(table, 'utf8').catch(() => '')).split('\n').slice(1);
    for (const line of lines) {
      const [, local = '', , state] = line.trim().split(/\s+/);
      if (state === LISTEN && parseInt(local.split(':')[1] ?? '', 16) === port) return true;
    }
  }
  return false;
}
