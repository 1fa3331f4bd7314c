import { describe, expect, it } from 'vitest';
import { assertSigningCertUrl, assertSubscribeUrl } from './sns-urls.js';

const TOPIC = 'arn:aws:sns:us-west-2:131990247566:dongie-standard-topic';
const CERT = 'https://sns.us-west-2.amazonaws.com/SimpleNotificationService-abc.pem';

describe('assertSigningCertUrl', () => {
  it('accepts the regional SNS host', () => {
    expect(assertSigningCertUrl(CERT, TOPIC).hostname).toBe('sns.us-west-2.amazonaws.com');
    expect(() =>
      assertSigningCertUrl(
        'https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-x.pem',
        'arn:aws-cn:sns:cn-north-1:123456789012:t',
      ),
    ).not.toThrow();
    expect(() =>
      assertSigningCertUrl(
        'https://sns.us-gov-west-1.amazonaws.com/x.pem',
        'arn:aws-us-gov:sns:us-gov-west-1:123456789012:t',
      ),
    ).not.toThrow();
  });

  it.each([
    ['http scheme', 'http://sns.us-west-2.amazonaws.com/x.pem'],
    ['look-alike suffix', 'https://sns.us-west-2.amazonaws.com.evil.com/x.pem'],
    ['foreign host', 'https://evil.com/x.pem'],
    ['S3-hosted bucket named sns', 'https://sns.s3-us-west-2.amazonaws.com/x.pem'],
    ['not a .pem', 'https://sns.us-west-2.amazonaws.com/x.txt'],
    ['a query', 'https://sns.us-west-2.amazonaws.com/x.pem?a=b'],
    ['user info', 'https://a:b@sns.us-west-2.amazonaws.com/x.pem'],
    ['another port', 'https://sns.us-west-2.amazonaws.com:8443/x.pem'],
    ['another region than the topic', 'https://sns.us-east-1.amazonaws.com/x.pem'],
    ['loopback', 'https://127.0.0.1/x.pem'],
    ['not a URL', 'sns.us-west-2.amazonaws.com/x.pem'],
  ])('refuses %s', (_what, url) => {
    expect(() => assertSigningCertUrl(url, TOPIC)).toThrow(
      expect.objectContaining({ code: 'RELAY_SNS_CERT_URL_INVALID' }),
    );
  });
});

describe('assertSubscribeUrl', () => {
  const good = `https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${TOPIC}&Token=abc`;

  it('accepts a ConfirmSubscription call of the same topic', () => {
    expect(assertSubscribeUrl(good, TOPIC).searchParams.get('Token')).toBe('abc');
  });

  it.each([
    ['another action', good.replace('ConfirmSubscription', 'Unsubscribe')],
    ['no action', 'https://sns.us-west-2.amazonaws.com/?Token=abc'],
    ['another topic', good.replace('dongie-standard-topic', 'other-topic')],
    ['a foreign host', good.replace('sns.us-west-2.amazonaws.com', 'evil.com')],
    ['http', good.replace('https:', 'http:')],
  ])('refuses %s', (_what, url) => {
    expect(() => assertSubscribeUrl(url, TOPIC)).toThrow(
      expect.objectContaining({ code: 'RELAY_SNS_SUBSCRIBE_URL_INVALID' }),
    );
  });
});
