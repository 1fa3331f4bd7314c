/**
 * AWS SNS through the ingress against a real RabbitMQ: signatures (the real AWS-signed fixtures,
 * and messages signed by a test certificate for S3 events), the certificate and SubscribeURL
 * host checks happening before any request leaves the process (proved with a listener on
 * 127.0.0.1 that counts what reaches it), confirmation, the replay window and MessageId dedup.
 */
import { createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type SnsMessage } from '@s3relay/core';
import { snsStringToSign, type IngressOptions } from '@s3relay/ingress';
import { readWebhookFixture } from '../fixtures/webhook-fixtures.js';
import { queueDepth, rabbitUrl } from '../helpers/rabbit.js';
import { startTestIngress } from '../support/ingress-bed.js';

const FIXTURE_CERT = readWebhookFixture('cert.pem').toString('utf8');
/** Inside the fixture certificate's validity and the fixtures' replay window. */
const FIXTURE_TIME = new Date('2026-03-06T20:00:00Z');
const SIGNER_DIR = new URL('../../packages/ingress/test-fixtures/', import.meta.url);
const SIGNER_KEY = readFileSync(new URL('sns-test-signer.key.pem', SIGNER_DIR), 'utf8');
const SIGNER_CERT = readFileSync(new URL('sns-test-signer.cert.pem', SIGNER_DIR), 'utf8');
const SIGNER_CERT_URL = 'https://sns.us-west-2.amazonaws.com/SimpleNotificationService-test.pem';
const TOPIC = 'arn:aws:sns:us-west-2:123456789012:s3relay-it';
/** The topic of the real AWS-signed fixtures. */
const FIXTURE_TOPIC = 'arn:aws:sns:us-west-2:131990247566:dongie-standard-topic';
/** Inside the test signer's validity. */
const SIGNER_TIME = new Date('2030-06-01T12:00:00Z');

/** A listener on 127.0.0.1 that records every request reaching it. */
interface Listener {
  readonly port: number;
  readonly requests: { method: string; url: string }[];
}

let listener: Listener;
let listenerServer: Server;
const cleanups: (() => Promise<void>)[] = [];

beforeEach(async () => {
  const requests: Listener['requests'] = [];
  listenerServer = createServer((req: IncomingMessage, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '' });
    res.writeHead(200, { 'content-type': 'text/plain' }).end(SIGNER_CERT);
  });
  listenerServer.listen(0, '127.0.0.1');
  await new Promise((resolve) => listenerServer.once('listening', resolve));
  listener = { port: (listenerServer.address() as AddressInfo).port, requests };
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await new Promise((resolve) => listenerServer.close(resolve));
});

/** Fetches that send every URL they are given to the listener instead (path and query kept). */
function toListener(url: string): Promise<Response> {
  const parsed = new URL(url);
  return fetch(`http://127.0.0.1:${listener.port}${parsed.pathname}${parsed.search}`);
}
const certificateViaListener = async (url: string) => (await toListener(url)).text();
const confirmViaListener = async (url: string) => {
  await (await toListener(url)).text();
};

async function startIngress(env: Record<string, string>, options: Partial<IngressOptions>) {
  const { url, tasksQueue } = await startTestIngress({
    label: 'ingress-sns',
    // As an operator must: SNS is refused while SNS_TOPIC_ARNS is empty.
    env: { SNS_TOPIC_ARNS: `${TOPIC},${FIXTURE_TOPIC}`, ...env },
    options,
    cleanups,
  });
  return {
    tasksQueue,
    post: (body: string, path = '/webhook/sns') =>
      fetch(url + path, {
        method: 'POST',
        body,
        headers: {
          'content-type': 'text/plain; charset=UTF-8',
          'x-amz-sns-message-type': 'Notification',
        },
      }),
  };
}

function fixture(name: string): string {
  return readWebhookFixture(name).toString('utf8');
}

function sign(fields: Partial<SnsMessage> & Pick<SnsMessage, 'Type' | 'Message'>): string {
  const unsigned: SnsMessage = {
    MessageId: 'm-1',
    TopicArn: TOPIC,
    Timestamp: SIGNER_TIME.toISOString(),
    SignatureVersion: '2',
    SigningCertURL: SIGNER_CERT_URL,
    Signature: '',
    ...fields,
  };
  const signature = createSign(unsigned.SignatureVersion === '1' ? 'RSA-SHA1' : 'RSA-SHA256')
    .update(snsStringToSign(unsigned), 'utf8')
    .sign(SIGNER_KEY, 'base64');
  return JSON.stringify({ ...unsigned, Signature: signature });
}

function s3Notification(messageId: string, keys: string[], timestamp = SIGNER_TIME): string {
  const records = keys.map((key) => ({
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'us-west-2',
    eventTime: timestamp.toISOString(),
    eventName: 'ObjectCreated:Put',
    s3: {
      s3SchemaVersion: '1.0',
      bucket: { name: 'bucket-sns', arn: 'arn:aws:s3:::bucket-sns' },
      object: { key, size: 3, eTag: 'abc', sequencer: '0055AED6DCD90281E5' },
    },
  }));
  return sign({
    Type: 'Notification',
    MessageId: messageId,
    Subject: 'Amazon S3 Notification',
    Timestamp: timestamp.toISOString(),
    Message: JSON.stringify({ Records: records }),
  });
}

describe('SNS signatures with the real AWS-signed fixtures', () => {
  it('accepts v1 and v2 notifications and refuses tampered ones and SignatureVersion "3"', async () => {
    const s = await startIngress(
      {},
      { fetchCertificate: () => Promise.resolve(FIXTURE_CERT), now: () => FIXTURE_TIME },
    );
    expect((await s.post(fixture('notif-v1.json'))).status).toBe(200);
    expect((await s.post(fixture('notif-v2.json'))).status).toBe(200);
    const tampered = fixture('notif-v2.json').replace('signature version 2', 'signature version 3');
    const refused = await s.post(tampered);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: 'RELAY_SNS_SIGNATURE_INVALID' });
    const v3 = fixture('notif-v1.json').replace(
      '"SignatureVersion" : "1"',
      '"SignatureVersion" : "3"',
    );
    expect((await s.post(v3)).status).toBe(403);
  });
});

describe('nothing is fetched from a host that is not SNS', () => {
  it('sends no request for a certificate URL on another host, with the production fetcher', async () => {
    // No fetchers injected: Node's fetch would really go to the listener if the check failed.
    const s = await startIngress({}, { now: () => FIXTURE_TIME });
    const base = `127.0.0.1:${listener.port}`;
    for (const certUrl of [`http://${base}/cert.pem`, `https://${base}/cert.pem`]) {
      const body = fixture('notif-v1.json').replace(
        /"SigningCertURL" : "[^"]*"/,
        `"SigningCertURL" : "${certUrl}"`,
      );
      const response = await s.post(body);
      expect(response.status).toBe(403);
      expect(await response.json()).toMatchObject({ error: 'RELAY_SNS_CERT_URL_INVALID' });
    }
    expect(listener.requests).toEqual([]);
  });

  it('never calls the certificate fetcher for a bad host (positive control: a good one does)', async () => {
    const s = await startIngress(
      {},
      { fetchCertificate: certificateViaListener, now: () => SIGNER_TIME },
    );
    for (const certUrl of [
      'http://sns.us-west-2.amazonaws.com/SimpleNotificationService-test.pem',
      'https://sns.us-west-2.amazonaws.com.evil.com/SimpleNotificationService-test.pem',
      'https://evil.com/SimpleNotificationService-test.pem',
      'https://sns.us-west-2.amazonaws.com/SimpleNotificationService-test.txt',
    ]) {
      const response = await s.post(
        sign({ Type: 'Notification', Message: 'hello', SigningCertURL: certUrl }),
      );
      expect({ certUrl, status: response.status }).toEqual({ certUrl, status: 403 });
    }
    expect(listener.requests).toEqual([]);
    expect((await s.post(sign({ Type: 'Notification', Message: 'hello' }))).status).toBe(200);
    expect(listener.requests).toEqual([
      { method: 'GET', url: '/SimpleNotificationService-test.pem' },
    ]);
  });

  it('never visits a signed SubscribeURL on another host, with the production confirmer', async () => {
    const s = await startIngress(
      {},
      { fetchCertificate: () => Promise.resolve(SIGNER_CERT), now: () => SIGNER_TIME },
    );
    const response = await s.post(
      sign({
        Type: 'SubscriptionConfirmation',
        Message: 'confirm',
        Token: 'tok',
        SubscribeURL: `http://127.0.0.1:${listener.port}/?Action=ConfirmSubscription&TopicArn=${TOPIC}&Token=tok`,
      }),
    );
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: 'RELAY_SNS_SUBSCRIBE_URL_INVALID' });
    expect(listener.requests).toEqual([]);
  });
});

describe('SNS subscription handshakes', () => {
  it('confirms a SubscriptionConfirmation by visiting SubscribeURL exactly once', async () => {
    const s = await startIngress(
      { SNS_TOPIC_ARNS: FIXTURE_TOPIC },
      {
        fetchCertificate: () => Promise.resolve(FIXTURE_CERT),
        confirmSubscription: confirmViaListener,
        now: () => FIXTURE_TIME,
      },
    );
    const response = await s.post(fixture('subconf-v1.json'));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ confirmed: true });
    expect(listener.requests).toHaveLength(1);
    expect(listener.requests[0]?.url).toMatch(/^\/\?Action=ConfirmSubscription&TopicArn=/);
  });

  it('never confirms a topic outside SNS_TOPIC_ARNS', async () => {
    const s = await startIngress(
      { SNS_TOPIC_ARNS: 'arn:aws:sns:us-west-2:131990247566:some-other-topic' },
      {
        fetchCertificate: certificateViaListener,
        confirmSubscription: confirmViaListener,
        now: () => FIXTURE_TIME,
      },
    );
    const response = await s.post(fixture('subconf-v1.json'));
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: 'RELAY_SNS_TOPIC_NOT_ALLOWED' });
    expect(listener.requests).toEqual([]);
  });

  it('never visits the SubscribeURL of an UnsubscribeConfirmation', async () => {
    const s = await startIngress(
      {},
      {
        fetchCertificate: () => Promise.resolve(SIGNER_CERT),
        confirmSubscription: confirmViaListener,
        now: () => SIGNER_TIME,
      },
    );
    const response = await s.post(
      sign({
        Type: 'UnsubscribeConfirmation',
        Message: 'You have unsubscribed',
        Token: 'tok',
        SubscribeURL: `https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${TOPIC}&Token=tok`,
      }),
    );
    expect(response.status).toBe(200);
    expect(listener.requests).toEqual([]);
  });
});

describe('SNS notifications', () => {
  const signer = {
    fetchCertificate: () => Promise.resolve(SIGNER_CERT),
    now: () => SIGNER_TIME,
  };

  it('publishes the records inside Message, each MessageId once inside the window', async () => {
    const s = await startIngress({}, signer);
    const first = await s.post(s3Notification('n-1', ['a', 'b']));
    expect(await first.json()).toEqual({ accepted: 2 });
    for (let i = 0; i < 3; i += 1) {
      const again = await s.post(s3Notification('n-1', ['a', 'b']));
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual({ accepted: 0, duplicate: true });
    }
    // Concurrent redeliveries of one new MessageId publish once too.
    const concurrent = await Promise.all(
      Array.from({ length: 5 }, () => s.post(s3Notification('n-2', ['c']))),
    );
    expect(concurrent.map((response) => response.status)).toEqual([200, 200, 200, 200, 200]);
    expect(await queueDepth(rabbitUrl(), s.tasksQueue)).toBe(3);
  });

  it('refuses a notification older than SNS_MAX_AGE as a replay', async () => {
    const s = await startIngress({ SNS_MAX_AGE: '15m' }, signer);
    const old = new Date(SIGNER_TIME.getTime() - 16 * 60 * 1000);
    const response = await s.post(s3Notification('n-old', ['a'], old));
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: 'RELAY_SNS_REPLAY' });
    const fresh = new Date(SIGNER_TIME.getTime() - 14 * 60 * 1000);
    expect((await s.post(s3Notification('n-fresh', ['a'], fresh))).status).toBe(200);
    expect(await queueDepth(rabbitUrl(), s.tasksQueue)).toBe(1);
  });

  it('is detected on POST /webhook as well', async () => {
    const s = await startIngress({}, signer);
    expect((await s.post(s3Notification('n-3', ['x']), '/webhook')).status).toBe(200);
    expect(await queueDepth(rabbitUrl(), s.tasksQueue)).toBe(1);
  });
});

describe('SNS while SNS_TOPIC_ARNS is empty', () => {
  const seams = {
    fetchCertificate: certificateViaListener,
    confirmSubscription: confirmViaListener,
    now: () => SIGNER_TIME,
  };

  it('refuses every message, naming the variable, before fetching or confirming anything', async () => {
    const s = await startIngress({ SNS_TOPIC_ARNS: '' }, seams);
    // Any AWS account can sign these for a topic of its own.
    for (const body of [
      sign({
        Type: 'SubscriptionConfirmation',
        Message: 'confirm',
        Token: 'tok',
        SubscribeURL: `https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${TOPIC}&Token=tok`,
      }),
      s3Notification('m-foreign', ['planted.txt']),
    ]) {
      const response = await s.post(body);
      expect(response.status).toBe(403);
      const answer = (await response.json()) as { error: string; message: string };
      expect(answer.error).toBe('RELAY_SNS_TOPIC_NOT_ALLOWED');
      expect(answer.message).toContain('SNS_TOPIC_ARNS');
    }
    expect(listener.requests).toEqual([]);
    expect(await queueDepth(rabbitUrl(), s.tasksQueue)).toBe(0);
  });

  it('accepts any topic when the operator opts in with SNS_ALLOW_ANY_TOPIC', async () => {
    const s = await startIngress({ SNS_TOPIC_ARNS: '', SNS_ALLOW_ANY_TOPIC: 'true' }, seams);
    expect((await s.post(s3Notification('m-any', ['any.txt']))).status).toBe(200);
    expect(await queueDepth(rabbitUrl(), s.tasksQueue)).toBe(1);
  });
});
