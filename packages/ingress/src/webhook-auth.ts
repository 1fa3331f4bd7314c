import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * The most token candidates a request may carry: a sender puts the token in one place, at most
 * in a header, a path segment and a query parameter (one to spare). More is a guesser trying
 * many per request.
 */
export const MAX_TOKEN_CANDIDATES = 4;

/** Where a caller may put the shared WEBHOOK_TOKEN. */
export interface PresentedCredentials {
  /** The `Authorization` header, if any. */
  readonly authorization: string | undefined;
  /** The `/webhook/<source>/<token>` path segment, if any. */
  readonly pathToken: string | undefined;
  /** Path and query of the request (`?token=` is read from it). */
  readonly pathAndQuery: string;
}

/**
 * Every token the request presents: `Authorization: Bearer <token>`, the password of
 * `Authorization: Basic` (SNS sends Basic when the subscription URL has user info), the path
 * segment, and each `token` query parameter (how a VK Cloud URL carries it: VK sends no header,
 * and the query is covered by the handshake's HMAC).
 */
export function presentedTokens(credentials: PresentedCredentials): string[] {
  const tokens: string[] = [];
  const authorization = credentials.authorization?.trim() ?? '';
  const bearer = /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
  if (bearer !== undefined) tokens.push(bearer);
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(authorization)?.[1];
  if (basic !== undefined) {
    const decoded = Buffer.from(basic, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0) tokens.push(decoded.slice(colon + 1));
  }
  if (credentials.pathToken !== undefined) tokens.push(credentials.pathToken);
  const query = new URL(credentials.pathAndQuery, 'http://placeholder.invalid').searchParams;
  tokens.push(...query.getAll('token'));
  return tokens;
}

/**
 * True when one of `presented` equals `expected`. Compared as SHA-256 digests with
 * `timingSafeEqual`, so the time taken reveals neither the token nor its length.
 */
export function tokenMatches(expected: string, presented: readonly string[]): boolean {
  const want = createHash('sha256').update(expected, 'utf8').digest();
  let matched = false;
  for (const candidate of presented) {
    const got = createHash('sha256').update(candidate, 'utf8').digest();
    // No early exit: every candidate costs the same.
    matched = timingSafeEqual(want, got) || matched;
  }
  return matched;
}
