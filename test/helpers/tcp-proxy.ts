import { once } from 'node:events';
import { createServer, connect as tcpConnect, type Socket } from 'node:net';

/**
 * - `pass`: forward both ways (after the configured delay).
 * - `drop`: a black hole. New connections are accepted but never forwarded; bytes of every open
 *   connection are discarded both ways while sockets stay open (as a dead network path does).
 * - `reset`: new connections are reset at once and open ones now (TCP RST).
 */
export type TcpProxyMode = 'pass' | 'drop' | 'reset';

/** Which way bytes cross the proxy: from clients to the target (`up`) or back (`down`). */
export type TcpDirection = 'up' | 'down';

export interface TcpProxyModeOptions {
  /** Whether open connections are affected too (`drop`, `reset`). @default true */
  readonly existing?: boolean;
}

export interface TcpProxy {
  /** The proxy's port on 127.0.0.1. */
  readonly port: number;
  /** `base` with host and port replaced by the proxy's, e.g. for an `amqp://` URL. */
  url(base: string): string;
  setMode(mode: TcpProxyMode, options?: TcpProxyModeOptions): void;
  /** Delays every chunk by `ms` in both directions, preserving order. */
  setDelay(ms: number): void;
  /**
   * Keeps back every byte going `direction`, on open and new connections, until {@link release}:
   * e.g. `down` lets a publish reach the broker while its confirm waits, for as long as the test
   * needs, so a test orders events by holding one side instead of by sleeping.
   */
  hold(direction: TcpDirection): void;
  /** Passes every held byte on, in order, and holds no more. */
  release(): void;
  /** Bytes received and not yet passed on (delayed or held), in `direction`. */
  pendingBytes(direction: TcpDirection): number;
  /** Resets (RST) every open connection now; the mode stays. */
  resetAll(): void;
  /** Open client connections. */
  readonly connections: number;
  /** Resets every connection and stops listening; idempotent. */
  close(): Promise<void>;
}

interface Link {
  readonly client: Socket;
  /** Absent for connections accepted in `drop` mode. */
  readonly upstream: Socket | undefined;
  /** Set when the link was black-holed while open: bytes are discarded from then on. */
  dropped: boolean;
}

/**
 * A TCP proxy on 127.0.0.1 in front of `target` that can delay, hold, black-hole or reset the
 * connections through it: network faults for the AMQP (or any TCP) client under test.
 */
export async function startTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  const host = target.host ?? '127.0.0.1';
  let mode: TcpProxyMode = 'pass';
  let delayMs = 0;
  const links = new Set<Link>();
  /** Resolved by release(); present while `direction` is held. */
  const holds = new Map<TcpDirection, { released: Promise<void>; release(): void }>();
  const pending: Record<TcpDirection, number> = { up: 0, down: 0 };

  // Half-open allowed: each direction is ended by the proxy after its delayed chunks are written.
  const server = createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
    client.on('error', () => undefined);
    if (mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'drop') {
      const link: Link = { client, upstream: undefined, dropped: true };
      links.add(link);
      client.on('data', () => undefined);
      client.on('close', () => links.delete(link));
      return;
    }
    const upstream = tcpConnect({ host, port: target.port, noDelay: true, allowHalfOpen: true });
    upstream.on('error', () => undefined);
    const link: Link = { client, upstream, dropped: false };
    links.add(link);
    forward(link, client, upstream, 'up');
    forward(link, upstream, client, 'down');
    // A reset (or a refused upstream) on one side is passed on as a reset of the other.
    client.on('close', (hadError) => {
      links.delete(link);
      if (hadError && !link.dropped) upstream.resetAndDestroy();
    });
    upstream.on('close', (hadError) => {
      links.delete(link);
      if (hadError && !link.dropped) client.resetAndDestroy();
    });
  });

  /**
   * Copies `from` → `to`, each chunk held `delayMs` after it arrived and then for as long as
   * `direction` is held, in order.
   */
  const forward = (link: Link, from: Socket, to: Socket, direction: TcpDirection) => {
    let chain = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      const due = Date.now() + delayMs;
      pending[direction] += chunk.length;
      chain = chain.then(async () => {
        const wait = due - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        await holds.get(direction)?.released;
        pending[direction] -= chunk.length;
        if (!link.dropped && !to.destroyed) to.write(chunk);
      });
    });
    from.on('end', () => {
      chain = chain.then(() => {
        if (!link.dropped && !to.destroyed) to.end();
      });
    });
  };

  const releaseAll = () => {
    for (const held of holds.values()) held.release();
    holds.clear();
  };

  const reset = (link: Link) => {
    link.client.resetAndDestroy();
    link.upstream?.resetAndDestroy();
    links.delete(link);
  };

  // Every accepted socket, for close(): a black-holed link whose upstream went away leaves
  // `links` while its client side may stay half-open, and server.close() would wait for it.
  const accepted = new Set<Socket>();
  server.on('connection', (socket) => {
    accepted.add(socket);
    socket.on('close', () => accepted.delete(socket));
  });

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  let closing: Promise<void> | undefined;

  return {
    port,
    url(base) {
      const parsed = new URL(base);
      parsed.hostname = '127.0.0.1';
      parsed.port = String(port);
      return parsed.toString();
    },
    setMode(next, options = {}) {
      mode = next;
      if (options.existing === false) return;
      for (const link of [...links]) {
        if (next === 'reset') reset(link);
        else if (next === 'drop') link.dropped = true;
      }
    },
    setDelay(ms) {
      delayMs = ms;
    },
    hold(direction) {
      if (holds.has(direction)) return;
      let release = (): void => undefined;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      holds.set(direction, { released, release });
    },
    release: releaseAll,
    pendingBytes(direction) {
      return pending[direction];
    },
    resetAll() {
      for (const link of [...links]) reset(link);
    },
    get connections() {
      return links.size;
    },
    close() {
      closing ??= (async () => {
        const closed = new Promise((resolve) => server.close(resolve));
        releaseAll();
        for (const link of [...links]) reset(link);
        for (const socket of accepted) socket.destroy();
        await closed;
      })();
      return closing;
    },
  };
}
