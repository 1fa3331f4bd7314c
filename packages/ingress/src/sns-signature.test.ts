import { describe, expect, it, vi } from 'vitest';
import { PermanentError, TransientError, type SnsMessage } from '@s3relay/core';
import { readWebhookFixture } from '../../../test/fixtures/webhook-fixtures.js';
import { createSnsVerifier, snsStringToSign } from './sns-signature.js';

const CERT_PEM = readWebhookFixture('cert.pem').toString('utf8');
/** Inside the fixture certificate's validity (it expired 2026-10-14). */
const FIXTURE_TIME = new Date('2026-03-06T20:00:00Z');

function fixture(name: string): SnsMessage {
  return JSON.parse(readWebhookFixture(name).toString('utf8')) as SnsMessage;
}

function verifierWith(now = FIXTURE_TIME) {
  const fetchCertificate = vi.fn((_url: string) => Promise.resolve(CERT_PEM));
  return { fetchCertificate, verifier: createSnsVerifier({ fetchCertificate, now: () => now }) };
}

describe('snsStringToSign', () => {
  it('matches the reference string of notif-v1 exactly', () => {
    expect(snsStringToSign(fixture('notif-v1.json'))).toBe(
      'Message\nThis notification has no subject.\nMessageId\nc0e5a280-53c9-5a98-93bb-c0a560b3d192\n' +
        'Timestamp\n2026-03-06T19:55:38.903Z\nTopicArn\narn:aws:sns:us-west-2:131990247566:dongie-standard-topic\n' +
        'Type\nNotification\n',
    );
  });

  it('includes SubscribeURL and Token for confirmations, Subject only when present', () => {
    const text = snsStringToSign(fixture('subconf-v1.json'));
    expect(text).toMatch(/^Message\n[\s\S]*\nMessageId\n.*\nSubscribeURL\n.*\nTimestamp\n/);
    expect(text).toContain('\nToken\n');
    const withSubject = { ...fixture('notif-v1.json'), Subject: 'Amazon S3 Notification' };
    expect(snsStringToSign(withSubject)).toContain('\nSubject\nAmazon S3 Notification\n');
  });
});

describe('createSnsVerifier', () => {
  it.each(['notif-v1.json', 'notif-v2.json', 'subconf-v1.json'])(
    'accepts the real AWS-signed %s',
    async (name) => {
      const { verifier } = verifierWith();
      await expect(verifier.verify(fixture(name))).resolves.toBeUndefined();
    },
  );

  it('fetches each certificate once and caches it', async () => {
    const { verifier, fetchCertificate } = verifierWith();
    await verifier.verify(fixture('notif-v1.json'));
    await verifier.verify(fixture('notif-v2.json'));
    await verifier.verify(fixture('subconf-v1.json'));
    expect(fetchCertificate).toHaveBeenCalledTimes(1);
    expect(fetchCertificate).toHaveBeenCalledWith(fixture('notif-v1.json').SigningCertURL);
  });

  it('refuses a message whose Message changed by one character', async () => {
    const { verifier } = verifierWith();
    const message = fixture('notif-v1.json');
    const tampered = { ...message, Message: message.Message.replace('no', 'No') };
    await expect(verifier.verify(tampered)).rejects.toMatchObject({
      code: 'RELAY_SNS_SIGNATURE_INVALID',
    });
  });

  it('refuses a v2 message claimed as v1 (the algorithm is part of the signature)', async () => {
    const { verifier } = verifierWith();
    await expect(
      verifier.verify({ ...fixture('notif-v2.json'), SignatureVersion: '1' }),
    ).rejects.toMatchObject({ code: 'RELAY_SNS_SIGNATURE_INVALID' });
  });

  it('refuses SignatureVersion "3" without fetching anything', async () => {
    const { verifier, fetchCertificate } = verifierWith();
    await expect(
      verifier.verify({ ...fixture('notif-v1.json'), SignatureVersion: '3' }),
    ).rejects.toMatchObject({ code: 'RELAY_SNS_SIGNATURE_INVALID' });
    expect(fetchCertificate).not.toHaveBeenCalled();
  });

  it.each([
    'http://sns.us-west-2.amazonaws.com/SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem',
    'https://sns.us-west-2.amazonaws.com.evil.com/SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem',
    'https://evil.com/SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem',
    'https://sns.us-west-2.amazonaws.com/SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.txt',
  ])('refuses the certificate URL %s before fetching', async (url) => {
    const { verifier, fetchCertificate } = verifierWith();
    await expect(
      verifier.verify({ ...fixture('notif-v1.json'), SigningCertURL: url }),
    ).rejects.toMatchObject({ code: 'RELAY_SNS_CERT_URL_INVALID' });
    expect(fetchCertificate).not.toHaveBeenCalled();
  });

  it('refuses a certificate outside its validity at the injected time', async () => {
    const { verifier } = verifierWith(new Date('2026-10-15T00:00:00Z'));
    const error = await verifier.verify(fixture('notif-v1.json')).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code: 'RELAY_SNS_CERT_INVALID' });
  });

  it('reports a failed fetch as transient and does not cache it', async () => {
    const fetchCertificate = vi
      .fn<(url: string) => Promise<string>>()
      .mockRejectedValueOnce(new Error('ECONNRESET'))
      .mockResolvedValue(CERT_PEM);
    const verifier = createSnsVerifier({ fetchCertificate, now: () => FIXTURE_TIME });
    const error = await verifier.verify(fixture('notif-v1.json')).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ code: 'RELAY_SNS_CERT_UNAVAILABLE' });
    await expect(verifier.verify(fixture('notif-v1.json'))).resolves.toBeUndefined();
    expect(fetchCertificate).toHaveBeenCalledTimes(2);
  });

  it('reports something that is not a certificate as transient', async () => {
    const verifier = createSnsVerifier({
      fetchCertificate: () => Promise.resolve('<html>oops</html>'),
      now: () => FIXTURE_TIME,
    });
    await expect(verifier.verify(fixture('notif-v1.json'))).rejects.toMatchObject({
      code: 'RELAY_SNS_CERT_UNAVAILABLE',
    });
  });
});
