import { connect } from 'node:net';

/** Watches that the test bed's own servers keep accepting connections. */
export interface LivenessMonitor {
  /** For each server that stopped answering: when, in ms after the monitor started. */
  failures(): readonly { name: string; afterMs: number }[];
  stop(): void;
}

/**
 * Tries a TCP connect to each server every `intervalMs`. A test-bed server that dies (the backup
 * s3rver, the emulator) would otherwise show up as lost keys or an odd error, and be blamed on
 * s3relay.
 */
export function watchServers(
  servers: Readonly<Record<string, number>>,
  intervalMs = 1000,
): LivenessMonitor {
  const started = Date.now();
  const failed = new Map<string, number>();
  const timer = setInterval(() => {
    for (const [name, port] of Object.entries(servers)) {
      if (failed.has(name)) continue;
      const socket = connect({ host: '127.0.0.1', port });
      socket.setTimeout(5000);
      socket.once('connect', () => socket.destroy());
      socket.once('timeout', () => socket.destroy());
      socket.once('error', () => {
        if (!failed.has(name)) failed.set(name, Date.now() - started);
      });
    }
  }, intervalMs);
  timer.unref();
  return {
    failures: () => [...failed].map(([name, afterMs]) => ({ name, afterMs })),
    stop: () => clearInterval(timer),
  };
}
