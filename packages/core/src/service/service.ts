import type { ProbeSource } from './probe.js';

/**
 * The shape both services (the worker, the ingress) share: a `Lifecycle` around the parts
 * their `compose` module wired, and the state and checks their probes show.
 */
export interface Service extends ProbeSource {
  /**
   * Starts the service; calling it again returns the same promise. When it rejects, everything
   * it had started is closed again and the state is `failed`.
   */
  start(): Promise<void>;
  /** Graceful shutdown; idempotent, the same promise every time. */
  close(): Promise<void>;
  /** Running, and every check holds: what `/readyz` answers. */
  readonly isReady: boolean;
  /** Why the start failed, once `failed`. */
  readonly error: unknown;
  /** The port of `/healthz`, `/readyz` and `/metrics` once started (kept after closing). */
  readonly metricsPort: number | undefined;
}
