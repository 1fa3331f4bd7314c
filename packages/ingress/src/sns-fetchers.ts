/**
 * The production network calls of the SNS handling, injected into the app so tests can serve the
 * real fixture certificate and count confirmations without reaching AWS. Both refuse redirects
 * (`redirect: 'manual'`; a 3xx counts as a failure) so a validated URL cannot bounce the request
 * to another host, and both are bounded in time and size.
 */

/** Visits a validated `SubscribeURL`; resolves when SNS answered 2xx. */
export type SubscriptionConfirmer = (url: string) => Promise<void>;

/** Time limit of one certificate fetch or confirmation. */
export const SNS_FETCH_TIMEOUT_MS = 10_000;

/** A PEM certificate is about 2 KB; anything much larger is not one. */
const MAX_CERTIFICATE_BYTES = 64 * 1024;

/** GETs an SNS signing certificate (the URL is validated by the caller) and returns its PEM. */
export async function fetchSnsCertificate(url: string): Promise<string> {
  const response = await fetch(url, {
    redirect: 'manual',
    signal: AbortSignal.timeout(SNS_FETCH_TIMEOUT_MS),
  });
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new Error(`the certificate URL answered HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > MAX_CERTIFICATE_BYTES) {
    await response.body?.cancel();
    throw new Error(`the certificate is ${declared} bytes, more than ${MAX_CERTIFICATE_BYTES}`);
  }
  const text = await response.text();
  if (text.length > MAX_CERTIFICATE_BYTES) {
    throw new Error(`the certificate is more than ${MAX_CERTIFICATE_BYTES} bytes`);
  }
  return text;
}

/** GETs a validated `SubscribeURL`, which confirms the subscription. */
export async function confirmSnsSubscription(url: string): Promise<void> {
  const response = await fetch(url, {
    redirect: 'manual',
    signal: AbortSignal.timeout(SNS_FETCH_TIMEOUT_MS),
  });
  await response.body?.cancel();
  if (response.status < 200 || response.status > 299) {
    throw new Error(`the SubscribeURL answered HTTP ${response.status}`);
  }
}
