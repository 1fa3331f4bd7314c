import { createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { SnsMessage } from '@s3relay/core';
import { snsStringToSign } from '@s3relay/ingress';
import { readWebhookFixture } from '../fixtures/webhook-fixtures.js';

/**
 * Signs SNS messages the way AWS does, with the test-only key of packages/ingress/test-fixtures
 * (not AWS's), so tests can send Notifications that carry S3 events: the real AWS-signed
 * fixtures carry none.
 */
const FIXTURES = new URL('../../packages/ingress/test-fixtures/', import.meta.url);
const TEST_SIGNER_KEY = readFileSync(new URL('sns-test-signer.key.pem', FIXTURES), 'utf8');
const TEST_SIGNER_CERT = readFileSync(new URL('sns-test-signer.cert.pem', FIXTURES), 'utf8');
/** The certificate that signed the real fixtures (expired since: check it at FIXTURE_TIME). */
const FIXTURE_CERT = readWebhookFixture('cert.pem').toString('utf8');

export const TEST_CERT_URL =
  'https://sns.us-west-2.amazonaws.com/SimpleNotificationService-test.pem';
export const TEST_TOPIC = 'arn:aws:sns:us-west-2:123456789012:s3relay-test';
/** Inside the test signer's validity: the clock to verify test-signed messages at. */
export const TEST_TIME = new Date('2030-01-01T00:00:00Z');
/** The topic of the real AWS-signed fixtures. */
export const FIXTURE_TOPIC = 'arn:aws:sns:us-west-2:131990247566:dongie-standard-topic';
/** Inside the real fixtures' replay window and their certificate's validity. */
export const FIXTURE_TIME = new Date('2026-03-06T20:00:00Z');

/** A certificate fetcher that serves the test signer's certificate, and AWS's for the rest. */
export function fetchTestCertificate(url: string): Promise<string> {
  return Promise.resolve(url === TEST_CERT_URL ? TEST_SIGNER_CERT : FIXTURE_CERT);
}

/** An SNS message of TEST_TOPIC, sent at TEST_TIME, signed by the test signer. */
export function signedSns(
  fields: Partial<SnsMessage> & Pick<SnsMessage, 'Type' | 'Message'>,
  version = '1',
): SnsMessage {
  const unsigned: SnsMessage = {
    MessageId: 'msg-1',
    TopicArn: TEST_TOPIC,
    Timestamp: TEST_TIME.toISOString(),
    SignatureVersion: version,
    SigningCertURL: TEST_CERT_URL,
    Signature: '',
    ...fields,
  };
  const signature = createSign(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256')
    .update(snsStringToSign(unsigned), 'utf8')
    .sign(TEST_SIGNER_KEY, 'base64');
  return { ...unsigned, Signature: signature };
}
