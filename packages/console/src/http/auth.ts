import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const SESSION_COOKIE = 's3relay_console_session';
/** A login lasts a working day. */
const SESSION_MS = 12 * 3600_000;

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Who may use the console.
 *
 * - With a token (required when the console listens beyond loopback): every page and API call
 *   needs a session from `POST /login` with the token, or `Authorization: Bearer <token>`.
 * - Without one (loopback only): anyone on this machine may, but only under a loopback host
 *   name — a page elsewhere cannot reach it by pointing its own name at 127.0.0.1 (DNS
 *   rebinding).
 *
 * Either way, changes (POST) are refused when a browser says they come from another origin, so
 * a page on another site cannot replay or drop tasks through the operator's browser.
 */
export class ConsoleAuth {
  readonly #tokenHash: Buffer | undefined;
  readonly #sessions = new Map<string, number>();
  readonly #now: () => number;

  constructor(token: string | undefined, now: () => number = Date.now) {
    this.#tokenHash = token === undefined ? undefined : digest(token);
    this.#now = now;
  }

  get requiresLogin(): boolean {
    return this.#tokenHash !== undefined;
  }

  /** Whether the request may see the console. */
  isAllowed(request: IncomingMessage): boolean {
    if (this.#tokenHash === undefined) return isLoopbackHostHeader(request.headers.host);
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (bearer !== undefined) return this.tokenMatches(bearer);
    const session = cookie(request, SESSION_COOKIE);
    const expires = session === undefined ? undefined : this.#sessions.get(session);
    if (expires === undefined) return false;
    if (expires < this.#now()) {
      this.#sessions.delete(session ?? '');
      return false;
    }
    return true;
  }

  /** Whether a change request comes from the console's own page (or from no browser at all). */
  isSameOrigin(request: IncomingMessage): boolean {
    const origin = request.headers.origin;
    if (origin === undefined) return request.headers['sec-fetch-site'] !== 'cross-site';
    const host = request.headers.host ?? '';
    // https when a TLS-terminating proxy that keeps the Host header sits in front.
    return origin === `http://${host}` || origin === `https://${host}`;
  }

  tokenMatches(candidate: string): boolean {
    return this.#tokenHash !== undefined && timingSafeEqual(digest(candidate), this.#tokenHash);
  }

  /** A new session for a correct token, as a Set-Cookie value; undefined for a wrong one. */
  login(candidate: string): string | undefined {
    if (!this.tokenMatches(candidate)) return undefined;
    const now = this.#now();
    for (const [session, expires] of this.#sessions)
      if (expires < now) this.#sessions.delete(session);
    const session = randomBytes(32).toString('hex');
    this.#sessions.set(session, now + SESSION_MS);
    return `${SESSION_COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_MS / 1000}`;
  }

  /** Ends the request's session; the Set-Cookie value that clears it. */
  logout(request: IncomingMessage): string {
    const session = cookie(request, SESSION_COOKIE);
    if (session !== undefined) this.#sessions.delete(session);
    return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function cookie(request: IncomingMessage, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

function isLoopbackHostHeader(host: string | undefined): boolean {
  if (host === undefined) return false;
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.split(':')[0];
  return isLoopback(name ?? '');
}
