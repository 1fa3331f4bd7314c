import { PermanentError, type PermanentCode } from '@s3relay/core';

/**
 * The hosts SNS signs and confirms from: `sns.<region>.amazonaws.com`, or `.com.cn` in China.
 * The region must look like one (`us-east-1`, `us-gov-west-1`, `cn-north-1`): the official
 * validators' looser `sns.[a-zA-Z0-9-]{3,}.amazonaws.com` also admits S3-hosted look-alikes such
 * as `sns.s3-us-west-2.amazonaws.com`, a bucket anyone can create (nathforge/validatesns#6).
 */
const SNS_HOST = /^sns\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(\.cn)?$/;

/** The region in `arn:<partition>:sns:<region>:<account>:<topic>`, or undefined. */
function topicRegion(topicArn: string): string | undefined {
  const match = /^arn:aws(?:-[a-z]+)*:sns:([a-z0-9-]+):\d{12}:[A-Za-z0-9_.-]+$/.exec(topicArn);
  return match?.[1];
}

/**
 * Checks the parts every SNS URL we may fetch must have: https on the default port, no user
 * info, and a host `sns.<region>.amazonaws.com[.cn]` whose region is the topic's (SNS signs and
 * confirms from the topic's own regional endpoint). Returns the parsed URL.
 */
function checkSnsUrl(raw: string, topicArn: string, code: PermanentCode, what: string): URL {
  const fail = (why: string): never => {
    throw new PermanentError(code, `${what} ${why}`, { context: { url: raw, topicArn } });
  };
  if (!URL.canParse(raw)) return fail('is not a URL');
  const url = new URL(raw);
  if (url.protocol !== 'https:') fail('must use https');
  if (url.username !== '' || url.password !== '') fail('must not carry credentials');
  if (url.port !== '') fail('must use the default port');
  const region = SNS_HOST.exec(url.hostname)?.[1];
  if (region === undefined) fail(`host "${url.hostname}" is not sns.<region>.amazonaws.com[.cn]`);
  if (region !== topicRegion(topicArn)) {
    fail(`host "${url.hostname}" is not in the region of the topic`);
  }
  return url;
}

/**
 * Validates an SNS `SigningCertURL` before anything is fetched from it. Thrown as
 * {@link PermanentError} `RELAY_SNS_CERT_URL_INVALID` when it is not an https `.pem` on
 * `sns.<region>.amazonaws.com[.cn]` of the topic's region.
 */
export function assertSigningCertUrl(raw: string, topicArn: string): URL {
  const url = checkSnsUrl(raw, topicArn, 'RELAY_SNS_CERT_URL_INVALID', 'SigningCertURL');
  if (!url.pathname.endsWith('.pem') || url.search !== '') {
    throw new PermanentError(
      'RELAY_SNS_CERT_URL_INVALID',
      'SigningCertURL must name a .pem file without a query',
      { context: { url: raw, topicArn } },
    );
  }
  return url;
}

/**
 * Validates an SNS `SubscribeURL` before it is visited: the SNS host of the topic's region,
 * `Action=ConfirmSubscription`, and (when the URL names one) the same topic as the message.
 * Thrown as {@link PermanentError} `RELAY_SNS_SUBSCRIBE_URL_INVALID` otherwise.
 */
export function assertSubscribeUrl(raw: string, topicArn: string): URL {
  const code = 'RELAY_SNS_SUBSCRIBE_URL_INVALID';
  const url = checkSnsUrl(raw, topicArn, code, 'SubscribeURL');
  if (url.searchParams.get('Action') !== 'ConfirmSubscription') {
    throw new PermanentError(code, 'SubscribeURL is not an Action=ConfirmSubscription call', {
      context: { url: raw, topicArn },
    });
  }
  const urlTopic = url.searchParams.get('TopicArn');
  if (urlTopic !== null && urlTopic !== topicArn) {
    throw new PermanentError(code, 'SubscribeURL confirms another topic than the message', {
      context: { url: raw, topicArn },
    });
  }
  return url;
}
