import { hasField, type JsonObject } from './json-object.js';
import type { SnsMessage } from './types.js';

/** The envelope, or every reason it is not a usable one. */
export type SnsEnvelopeOutcome =
  | { readonly ok: true; readonly message: SnsMessage }
  | { readonly ok: false; readonly reason: string };

/**
 * Reads an AWS SNS envelope into an {@link SnsMessage}, keeping only the fields that the
 * signature of its `Type` covers plus `UnsubscribeURL` (so a Notification never carries a
 * `SubscribeURL` the ingress might be tempted to visit). Every field SNS always sends for the message's `Type` must be
 * a string — `SignatureVersion` included, which is how AWS writes it (VK's look-alike handshake
 * uses a number) — and the optional ones must be strings when present. A JSON `null` counts as
 * absent for the optional ones. Nothing is verified here: the signature needs the certificate,
 * which needs I/O, and is the ingress's job.
 */
export function parseSnsEnvelope(body: JsonObject): SnsEnvelopeOutcome {
  const type = body.Type;
  if (
    type !== 'Notification' &&
    type !== 'SubscriptionConfirmation' &&
    type !== 'UnsubscribeConfirmation'
  ) {
    return {
      ok: false,
      reason:
        'SNS envelope: Type must be Notification, SubscriptionConfirmation or UnsubscribeConfirmation',
    };
  }
  const problems: string[] = [];
  const required = (name: string): string => {
    const value = body[name];
    if (typeof value === 'string') return value;
    problems.push(`${name} ${hasField(body, name) ? 'is not a string' : 'is missing'}`);
    return '';
  };
  const optional = (name: string): string | undefined => {
    const value = body[name];
    if (typeof value === 'string') return value;
    if (value !== undefined && value !== null) problems.push(`${name} is not a string`);
    return undefined;
  };

  const common = {
    Type: type,
    MessageId: required('MessageId'),
    TopicArn: required('TopicArn'),
    Message: required('Message'),
    Timestamp: required('Timestamp'),
    SignatureVersion: required('SignatureVersion'),
    Signature: required('Signature'),
    SigningCertURL: required('SigningCertURL'),
  } satisfies SnsMessage;
  if (type === 'Notification') {
    const Subject = optional('Subject');
    const UnsubscribeURL = optional('UnsubscribeURL');
    if (problems.length > 0) return refuse(problems);
    // Subject only when present: the string to sign includes it only if it exists.
    return {
      ok: true,
      message: {
        ...common,
        ...(Subject === undefined ? {} : { Subject }),
        ...(UnsubscribeURL === undefined ? {} : { UnsubscribeURL }),
      },
    };
  }
  const Token = required('Token');
  const SubscribeURL = required('SubscribeURL');
  if (problems.length > 0) return refuse(problems);
  return { ok: true, message: { ...common, Token, SubscribeURL } };
}

function refuse(problems: readonly string[]): SnsEnvelopeOutcome {
  return { ok: false, reason: `SNS envelope: ${problems.join('; ')}` };
}
