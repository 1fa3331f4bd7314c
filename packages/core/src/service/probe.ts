import type { ServerResponse } from 'node:http';
import type { ServiceState } from './lifecycle.js';

/** What a service shows its probes. */
export interface ProbeSource {
  readonly state: ServiceState;
  /**
   * What readiness needs besides being `running`, each true while it holds: the worker's
   * `broker`, `consuming` and `s3`, the ingress's `broker` and `publishing`.
   */
  readonly checks: Readonly<Record<string, boolean>>;
}

/** The body of `/healthz` and `/readyz`, the same for every service. */
export interface ProbeBody {
  /** `ok` on `/healthz`; `ready` or `not ready` on `/readyz`. */
  readonly status: 'ok' | 'ready' | 'not ready';
  readonly state: ServiceState;
  readonly checks: Readonly<Record<string, boolean>>;
}

/** The probe paths, where both services' servers route them to {@link serveProbe}. */
export const PROBE_PATHS = ['/healthz', '/readyz'] as const;

/** Running, and every check holds. */
export function isReadyProbe(source: ProbeSource): boolean {
  return source.state === 'running' && Object.values(source.checks).every(Boolean);
}

/**
 * Answers a probe with JSON {@link ProbeBody}, the one probe handler of both services:
 * `/healthz` is liveness, 200 whenever the process answers; `/readyz` is 200 while
 * {@link isReadyProbe}, 503 before and once shutting down. Returns false, answering nothing,
 * for any other path. The response may be Node's or Express's (which extends it).
 */
export function serveProbe(path: string, source: ProbeSource, response: ServerResponse): boolean {
  if (!(PROBE_PATHS as readonly string[]).includes(path)) return false;
  const { state, checks } = source;
  const ready = isReadyProbe(source);
  const alive = path === '/healthz';
  const body: ProbeBody = { status: alive ? 'ok' : ready ? 'ready' : 'not ready', state, checks };
  response
    .writeHead(alive || ready ? 200 : 503, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    })
    .end(JSON.stringify(body));
  return true;
}
