import { X509Certificate, createVerify } from 'node:crypto';
import { PermanentError, RelayError, TransientError } from '@s3relay/core';
import type { SnsMessage } from '@s3relay/core';
import { assertSigningCertUrl } from './sns-urls.js';

/** Fetches the PEM text of an SNS signing certificate; called only for a validated URL. */
export type CertificateFetcher = (url: string) => Promise<string>;

/** The fields each message type signs, in the order SNS concatenates them. */
const CONFIRMATION_FIELDS = [
  'Message',
  'MessageId',
  'SubscribeURL',
  'Timestamp',
  'Token',
  'TopicArn',
  'Type',
] as const;

const SIGNED_FIELDS = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  // The docs list Token for both confirmation types; aws-js-sns-message-validator omits it for
  // UnsubscribeConfirmation, which the docs contradict.
  SubscriptionConfirmation: CONFIRMATION_FIELDS,
  UnsubscribeConfirmation: CONFIRMATION_FIELDS,
} as const satisfies Record<SnsMessage['Type'], readonly (keyof SnsMessage)[]>;

const ALGORITHMS: Readonly<Record<string, string>> = { '1': 'RSA-SHA1', '2': 'RSA-SHA256' };

/**
 * The string SNS signs: `Name\nvalue\n` for each signed field of the message's type that is
 * present, in SNS's fixed order, values exactly as decoded from the JSON.
 */
export function snsStringToSign(message: SnsMessage): string {
  let text = '';
  for (const field of SIGNED_FIELDS[message.Type]) {
    const value = message[field];
    if (value !== undefined) text += `${field}\n${value}\n`;
  }
  return text;
}

export interface SnsVerifierOptions {
  readonly fetchCertificate: CertificateFetcher;
  /**
   * The clock the certificate's validity is checked against. Injectable because the real SNS
   * fixtures were signed with a certificate that has since expired.
   */
  readonly now: () => Date;
  /** Certificates kept, by URL (SNS rotates them rarely). @default 32 */
  readonly maxCachedCertificates?: number;
}

/** Checks SNS message signatures; certificates are fetched once per URL and cached. */
export interface SnsVerifier {
  /**
   * Resolves when `message` carries a valid SNS signature. The certificate URL is validated
   * before anything is fetched. Thrown as {@link PermanentError} (`RELAY_SNS_CERT_URL_INVALID`,
   * `RELAY_SNS_SIGNATURE_INVALID`, `RELAY_SNS_CERT_INVALID`) when the message is not authentic,
   * and as {@link TransientError} `RELAY_SNS_CERT_UNAVAILABLE` when the certificate could not be
   * fetched (SNS retries on the 5xx this becomes).
   */
  verify(message: SnsMessage): Promise<void>;
}

export function createSnsVerifier(options: SnsVerifierOptions): SnsVerifier {
  const maxCached = options.maxCachedCertificates ?? 32;
  const certificates = new Map<string, Promise<X509Certificate>>();

  const load = (url: string): Promise<X509Certificate> => {
    const cached = certificates.get(url);
    if (cached !== undefined) return cached;
    const loading = fetchAndParse(options.fetchCertificate, url);
    // Failures are not cached: the next delivery tries again.
    loading.catch(() => certificates.delete(url));
    if (certificates.size >= maxCached) {
      const oldest = certificates.keys().next().value;
      if (oldest !== undefined) certificates.delete(oldest);
    }
    certificates.set(url, loading);
    return loading;
  };

  return {
    async verify(message) {
      const context = { messageId: message.MessageId, topicArn: message.TopicArn };
      const algorithm = ALGORITHMS[message.SignatureVersion];
      if (algorithm === undefined) {
        throw new PermanentError(
          'RELAY_SNS_SIGNATURE_INVALID',
          `SignatureVersion "${message.SignatureVersion}" is not supported (1 or 2)`,
          { context },
        );
      }
      const url = assertSigningCertUrl(message.SigningCertURL, message.TopicArn).toString();
      const certificate = await load(url);
      const now = options.now().getTime();
      if (now < Date.parse(certificate.validFrom) || now > Date.parse(certificate.validTo)) {
        throw new PermanentError(
          'RELAY_SNS_CERT_INVALID',
          `the signing certificate is not valid now (valid ${certificate.validFrom} to ${certificate.validTo})`,
          { context: { ...context, url } },
        );
      }
      const valid = createVerify(algorithm)
        .update(snsStringToSign(message), 'utf8')
        .verify(certificate.publicKey, message.Signature, 'base64');
      if (!valid) {
        throw new PermanentError(
          'RELAY_SNS_SIGNATURE_INVALID',
          'the SNS signature does not match the message',
          { context },
        );
      }
    },
  };
}

async function fetchAndParse(fetcher: CertificateFetcher, url: string): Promise<X509Certificate> {
  let pem: string;
  try {
    pem = await fetcher(url);
  } catch (err) {
    if (err instanceof RelayError) throw err;
    throw new TransientError(
      'RELAY_SNS_CERT_UNAVAILABLE',
      'could not fetch the SNS signing certificate',
      { cause: err, context: { url } },
    );
  }
  try {
    return new X509Certificate(pem);
  } catch (err) {
    // Whatever sns.<region>.amazonaws.com served over TLS was not a certificate: a glitch on
    // their side, worth a retry rather than dropping the message.
    throw new TransientError(
      'RELAY_SNS_CERT_UNAVAILABLE',
      'the SNS signing certificate could not be parsed',
      { cause: err, context: { url } },
    );
  }
}
