/** What the ingress knows about the URL a request was sent to. */
export interface RequestUrl {
  /** `http` or `https` (from X-Forwarded-Proto only when the proxy is trusted). */
  readonly protocol: string;
  /** The Host (or trusted X-Forwarded-Host), port included when not the default. */
  readonly host: string | undefined;
  /** Path and query exactly as in the request line. */
  readonly pathAndQuery: string;
}

/** The URL a VK handshake is signed over, and where it came from (for the log). */
export interface SigningUrl {
  readonly url: string;
  readonly from: 'public-urls' | 'request';
}

const BASE = 'http://placeholder.invalid';

function pathAndQueryOf(url: URL): string {
  return url.pathname + url.search;
}

/**
 * Picks the URL to sign a VK Cloud handshake over. VK signs the `<Url>` string exactly as
 * registered, so the configured entry of `publicUrls` whose path and query equal the request's is
 * used byte for byte (when several do, the one whose host is the request's). Without a match the
 * URL is rebuilt from the request: protocol, host, then path and query as received — right when
 * the registered URL has an explicit path and no proxy rewrote it.
 */
export function resolveSigningUrl(publicUrls: readonly string[], request: RequestUrl): SigningUrl {
  const requested = pathAndQueryOf(new URL(request.pathAndQuery, BASE));
  const matches = publicUrls.filter(
    (entry) => URL.canParse(entry) && pathAndQueryOf(new URL(entry)) === requested,
  );
  if (matches.length > 0) {
    const host = hostOf(request);
    const sameHost = matches.find((entry) => new URL(entry).host === host);
    return { url: sameHost ?? matches[0] ?? '', from: 'public-urls' };
  }
  return {
    url: `${request.protocol}://${request.host ?? ''}${request.pathAndQuery}`,
    from: 'request',
  };
}

function hostOf(request: RequestUrl): string | undefined {
  const candidate = `${request.protocol}://${request.host ?? ''}`;
  return URL.canParse(candidate) ? new URL(candidate).host : undefined;
}
