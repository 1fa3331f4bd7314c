/** What stands in for a secret in a printed URL. */
export const REDACTED = '***';

/** The query parameter webhook URLs carry WEBHOOK_TOKEN in (`?token=`). */
const TOKEN_PARAMETER = 'token';

/**
 * The URL as it may be printed in logs, messages and command output: the password of its user
 * info, the value of every `token` query parameter, and any user name, path segment or query
 * value equal to one of `secrets` (WEBHOOK_TOKEN) become `***`. Everything else is kept byte for
 * byte — no normalisation — because operators compare a printed webhook URL with the one they
 * registered (VK signs it exactly as registered). A relative URL (a request's path and query) is
 * redacted the same way.
 */
export function redactUrl(url: string, secrets: readonly (string | undefined)[] = []): string {
  const known = secrets.filter((secret): secret is string => secret !== undefined && secret !== '');
  const isSecret = (encoded: string) => decodings(encoded).some((text) => known.includes(text));
  const hashAt = url.indexOf('#');
  const fragment = hashAt < 0 ? '' : url.slice(hashAt);
  const beforeFragment = hashAt < 0 ? url : url.slice(0, hashAt);
  const queryAt = beforeFragment.indexOf('?');
  const query = queryAt < 0 ? undefined : beforeFragment.slice(queryAt + 1);
  const beforeQuery = queryAt < 0 ? beforeFragment : beforeFragment.slice(0, queryAt);

  const origin = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/.exec(beforeQuery)?.[0] ?? '';
  const path = beforeQuery.slice(origin.length);
  const redactedQuery =
    query === undefined
      ? ''
      : `?${query
          .split('&')
          .map((pair) => {
            const equals = pair.indexOf('=');
            if (equals < 0) return isSecret(pair) ? REDACTED : pair;
            const name = pair.slice(0, equals);
            const value = pair.slice(equals + 1);
            const isToken = decodings(name).includes(TOKEN_PARAMETER);
            return isToken || isSecret(value) ? `${name}=${REDACTED}` : pair;
          })
          .join('&')}`;
  return (
    redactOrigin(origin, isSecret) +
    path
      .split('/')
      .map((segment) => (isSecret(segment) ? REDACTED : segment))
      .join('/') +
    redactedQuery +
    fragment
  );
}

/** `scheme://user:password@host`: the password always, the user name when it is a secret. */
function redactOrigin(origin: string, isSecret: (encoded: string) => boolean): string {
  const at = origin.lastIndexOf('@');
  if (at < 0) return origin;
  const schemeEnd = origin.indexOf('//') + 2;
  const userInfo = origin.slice(schemeEnd, at);
  const colon = userInfo.indexOf(':');
  const user = colon < 0 ? userInfo : userInfo.slice(0, colon);
  const shownUser = isSecret(user) ? REDACTED : user;
  const shownPassword = colon < 0 ? '' : `:${REDACTED}`;
  return `${origin.slice(0, schemeEnd)}${shownUser}${shownPassword}${origin.slice(at)}`;
}

/**
 * What a URL component may stand for: itself, percent-decoded (paths, as Express decodes route
 * parameters) and form-decoded (queries, where `+` is a space).
 */
function decodings(encoded: string): string[] {
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text);
    } catch {
      return text;
    }
  };
  return [encoded, decode(encoded), decode(encoded.replace(/\+/g, ' '))];
}
