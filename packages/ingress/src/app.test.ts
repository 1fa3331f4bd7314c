import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Registry } from 'prom-client';
import {
  TransientError,
  loadConfig,
  parseTask,
  silentLogger,
  vkSignature,
  type Logger,
  type SnsMessage,
} from '@s3relay/core';
import { readWebhookFixture } from '../../../test/fixtures/webhook-fixtures.js';
import { MemoryPublisher } from '../../../test/support/memory-publisher.js';
import {
  FIXTURE_TIME,
  FIXTURE_TOPIC,
  TEST_TIME,
  TEST_TOPIC,
  fetchTestCertificate,
  signedSns,
} from '../../../test/support/sns-test-signer.js';
import { createApp, type IngressDeps } from './app.js';

interface Harness {
  readonly url: string;
  readonly publisher: MemoryPublisher;
  readonly fetchCertificate: ReturnType<typeof vi.fn<(url: string) => Promise<string>>>;
  readonly confirmSubscription: ReturnType<typeof vi.fn<(url: string) => Promise<void>>>;
  readonly logs: { level: string; message: string; meta: Record<string, unknown> }[];
  readonly registry: Registry;
  post(path: string, body: string | Buffer, headers?: Record<string, string>): Promise<Response>;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))),
  );
});

async function start(
  env: Record<string, string> = {},
  overrides: Partial<IngressDeps> = {},
): Promise<Harness> {
  const config = loadConfig({ AMQP_PREFIX: 'unit', ...env });
  const publisher = new MemoryPublisher();
  const fetchCertificate = vi.fn(fetchTestCertificate);
  const confirmSubscription = vi.fn((_url: string) => Promise.resolve());
  const logs: Harness['logs'] = [];
  const logger: Logger = {
    ...silentLogger,
    info: (message, meta = {}) => logs.push({ level: 'info', message, meta }),
    warn: (message, meta = {}) => logs.push({ level: 'warn', message, meta }),
    error: (message, meta = {}) => logs.push({ level: 'error', message, meta }),
  };
  const registry = new Registry();
  const app = createApp({
    config,
    logger,
    publisher,
    probe: {
      state: 'running',
      get checks() {
        return { publishing: publisher.isReady };
      },
    },
    fetchCertificate,
    confirmSubscription,
    now: () => FIXTURE_TIME,
    registry,
    ...overrides,
  });
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    publisher,
    fetchCertificate,
    confirmSubscription,
    logs,
    registry,
    post: (path, body, headers = {}) =>
      fetch(url + path, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', ...headers },
      }),
  };
}

/** The meta of the last log line with `message`. */
function logged(h: Harness, message: string): Record<string, unknown> | undefined {
  return h.logs.findLast((line) => line.message === message)?.meta;
}

function fixtureText(name: string): string {
  return readWebhookFixture(name).toString('utf8');
}

function awsRecord(key: string, bucket = 'bucket-a') {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'us-west-2',
    eventTime: '2030-01-01T00:00:00.000Z',
    eventName: 'ObjectCreated:Put',
    s3: {
      s3SchemaVersion: '1.0',
      bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` },
      object: { key, size: 1, eTag: 'abc', sequencer: '0062462BC814066BB7' },
    },
  };
}

function notification(messageId: string, records: unknown[]) {
  return JSON.stringify(
    signedSns({
      Type: 'Notification',
      MessageId: messageId,
      Subject: 'Amazon S3 Notification',
      Message: JSON.stringify({ Records: records }),
    }),
  );
}

describe('VK handshake', () => {
  it.each([
    [
      'X-Amz-Sns-Message-Type: SubscriptionConfirmation',
      { 'X-Amz-Sns-Message-Type': 'SubscriptionConfirmation' },
    ],
    [
      'x-amz-sns-messages-type: SubscriptionConfirmation',
      { 'x-amz-sns-messages-type': 'SubscriptionConfirmation' },
    ],
    ['X-Amz-Sns-Message-Type: Notification', { 'X-Amz-Sns-Message-Type': 'Notification' }],
    ['no header', {}],
  ])('answers the same signature with %s', async (_name, headers) => {
    const h = await start({ PUBLIC_URLS: 'http://test.com/webhook' });
    for (const path of ['/webhook', '/webhook/mcs']) {
      const response = await h.post(path, fixtureText('vk-confirmation.json'), headers);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      const handshake = JSON.parse(fixtureText('vk-confirmation.json')) as Record<string, string>;
      const expected = vkSignature(
        {
          timestamp: handshake.Timestamp ?? '',
          topicArn: handshake.TopicArn ?? '',
          token: handshake.Token ?? '',
        },
        path === '/webhook'
          ? 'http://test.com/webhook'
          : `http://127.0.0.1:${new URL(h.url).port}/webhook/mcs`,
      );
      expect(await response.json()).toEqual({ signature: expected });
    }
    expect(h.publisher.calls).toBe(0);
  });

  it('answers pretty-printed JSON (spaces after colons) the same', async () => {
    const h = await start({ PUBLIC_URLS: 'http://test.com/webhook' });
    const pretty = JSON.stringify(JSON.parse(fixtureText('vk-confirmation.json')), null, 2).replace(
      /":/g,
      '" :',
    );
    const compact = await (await h.post('/webhook', fixtureText('vk-confirmation.json'))).json();
    const spaced = await (await h.post('/webhook', pretty)).json();
    expect(spaced).toEqual(compact);
  });

  it('signs the PUBLIC_URLS entry matching path and query, and logs it without the token', async () => {
    const registered = 'https://hooks.example.com/webhook/mcs?token=s3cr3t-t0ken-4-tests';
    const h = await start({
      PUBLIC_URLS: `https://hooks.example.com/webhook/other,${registered}`,
      WEBHOOK_TOKEN: 's3cr3t-t0ken-4-tests',
    });
    const response = await h.post(
      '/webhook/mcs?token=s3cr3t-t0ken-4-tests',
      fixtureText('vk-confirmation.json'),
    );
    expect(response.status).toBe(200);
    const handshake = JSON.parse(fixtureText('vk-confirmation.json')) as Record<string, string>;
    expect(await response.json()).toEqual({
      signature: vkSignature(
        {
          timestamp: handshake.Timestamp ?? '',
          topicArn: handshake.TopicArn ?? '',
          token: handshake.Token ?? '',
        },
        registered,
      ),
    });
    expect(logged(h, 'vk handshake signed')).toMatchObject({
      signedUrl: 'https://hooks.example.com/webhook/mcs?token=***',
      signedUrlFrom: 'public-urls',
    });
    expect(JSON.stringify(h.logs)).not.toContain('s3cr3t');
  });

  it('refuses a handshake without the token when WEBHOOK_TOKEN is set', async () => {
    const h = await start({ WEBHOOK_TOKEN: 's3cr3t-t0ken-4-tests' });
    const response = await h.post('/webhook/mcs', fixtureText('vk-confirmation.json'));
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'RELAY_WEBHOOK_UNAUTHORIZED' });
  });

  it.each([
    [
      'without TRUST_PROXY, forwarded headers are ignored',
      'false',
      'http://127.0.0.1:PORT/webhook/mcs?x=1',
    ],
    [
      'with TRUST_PROXY, X-Forwarded-Proto/-Host are used',
      'true',
      'https://hooks.example.com/webhook/mcs?x=1',
    ],
  ])('rebuilds the URL from the request %s', async (_name, trustProxy, expectedPattern) => {
    const h = await start({ TRUST_PROXY: trustProxy });
    const response = await h.post('/webhook/mcs?x=1', fixtureText('vk-confirmation.json'), {
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'hooks.example.com',
    });
    const expectedUrl = expectedPattern.replace('PORT', new URL(h.url).port);
    const handshake = JSON.parse(fixtureText('vk-confirmation.json')) as Record<string, string>;
    expect(await response.json()).toEqual({
      signature: vkSignature(
        {
          timestamp: handshake.Timestamp ?? '',
          topicArn: handshake.TopicArn ?? '',
          token: handshake.Token ?? '',
        },
        expectedUrl,
      ),
    });
    expect(logged(h, 'vk handshake signed')).toMatchObject({
      signedUrl: expectedUrl,
      signedUrlFrom: 'request',
    });
  });
});

describe('records', () => {
  it('publishes one persistent task message per record and answers the count', async () => {
    const h = await start();
    const response = await h.post('/webhook/minio', fixtureText('minio-put.json'), {
      'x-request-id': 'req-1',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ accepted: 1 });
    expect(response.headers.get('x-request-id')).toBe('req-1');
    const [message] = h.publisher.published;
    expect(message?.queue).toBe('unit.tasks');
    expect(message?.headers).toEqual({ 'x-s3relay-attempt': 0 });
    const parsed = parseTask(message?.body ?? Buffer.alloc(0));
    expect(parsed.ok && parsed.task).toMatchObject({
      origin: 'minio',
      bucket: 'mybucket',
      key: 'photos/my file+1.jpg',
      receivedAt: FIXTURE_TIME.toISOString(),
    });
    expect(parsed.ok && message?.messageId).toBe(parsed.ok ? parsed.task.id : '');
    expect(logged(h, 'webhook')).toMatchObject({
      requestId: 'req-1',
      source: 'minio',
      outcome: 'accepted',
      status: 200,
      records: 1,
      durationMs: expect.any(Number) as number,
    });
  });

  it('detects the source on POST /webhook', async () => {
    const h = await start();
    for (const name of ['minio-put.json', 'ceph-put.json', 'vk-notification.json']) {
      expect((await h.post('/webhook', fixtureText(name))).status).toBe(200);
    }
    const origins = h.publisher.published.map((message) => {
      const parsed = parseTask(message.body);
      return parsed.ok ? parsed.task.origin : parsed.reason;
    });
    expect(origins).toEqual(['minio', 'ceph', 'mcs']);
  });

  it('answers 200 with nothing published for an empty Records array', async () => {
    const h = await start();
    const response = await h.post('/webhook/s3', '{"Records":[]}');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ accepted: 0 });
    expect(h.publisher.calls).toBe(0);
  });

  it.each([
    ['malformed JSON', '/webhook/minio', '{"Records":[', 400, 'RELAY_WEBHOOK_MALFORMED_JSON'],
    ['a JSON array', '/webhook/minio', '[]', 400, 'RELAY_WEBHOOK_INVALID_BODY'],
    ['Records not an array', '/webhook/s3', '{"Records":{}}', 400, 'RELAY_WEBHOOK_INVALID_BODY'],
    [
      'a record of wrong types',
      '/webhook/s3',
      '{"Records":[{"eventName":1}]}',
      400,
      'RELAY_WEBHOOK_INVALID_BODY',
    ],
    ['an undetectable body', '/webhook', '{"hello":"world"}', 400, 'RELAY_WEBHOOK_UNKNOWN_SOURCE'],
    [
      'an unknown source in the path',
      '/webhook/gcs',
      '{"Records":[]}',
      404,
      'RELAY_HTTP_NOT_FOUND',
    ],
    ['an empty body', '/webhook/minio', '', 400, 'RELAY_WEBHOOK_MALFORMED_JSON'],
  ])(
    'refuses %s with a JSON 4xx and publishes nothing',
    async (_what, path, body, status, code) => {
      const h = await start();
      const response = await h.post(path, body);
      expect(response.status).toBe(status);
      expect(await response.json()).toEqual({ error: code, message: expect.any(String) as string });
      expect(h.publisher.calls).toBe(0);
    },
  );

  it('refuses a body over HTTP_BODY_LIMIT with 413', async () => {
    const h = await start({ HTTP_BODY_LIMIT: '1kb' });
    const big = JSON.stringify({ Records: [awsRecord('x'.repeat(2000))] });
    const response = await h.post('/webhook/s3', big);
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: 'RELAY_WEBHOOK_TOO_LARGE' });
    expect(h.publisher.calls).toBe(0);
  });

  it('refuses the whole request when one record is invalid', async () => {
    const h = await start();
    const body = JSON.stringify({
      Records: [awsRecord('good'), { eventName: 'ObjectCreated:Put' }],
    });
    expect((await h.post('/webhook/s3', body)).status).toBe(400);
    expect(h.publisher.calls).toBe(0);
  });
});

describe('access control', () => {
  const body = JSON.stringify({ Records: [awsRecord('k')] });

  it.each([
    ['a Bearer header', '/webhook/s3', { authorization: 'Bearer s3cr3t-t0ken-4-tests' }],
    ['a path segment', '/webhook/s3/s3cr3t-t0ken-4-tests', {}],
    ['a token query', '/webhook/s3?token=s3cr3t-t0ken-4-tests', {}],
    [
      'Basic credentials',
      '/webhook/s3',
      { authorization: `Basic ${Buffer.from('u:s3cr3t-t0ken-4-tests').toString('base64')}` },
    ],
  ])('accepts WEBHOOK_TOKEN as %s', async (_what, path, headers) => {
    const h = await start({ WEBHOOK_TOKEN: 's3cr3t-t0ken-4-tests' });
    expect((await h.post(path, body, headers)).status).toBe(200);
  });

  it.each([
    ['no token', '/webhook/s3', {}],
    ['a wrong Bearer', '/webhook/s3', { authorization: 'Bearer nope' }],
    ['a wrong path segment', '/webhook/s3/nope', {}],
  ])('refuses %s with 401 before reading the body', async (_what, path, headers) => {
    const h = await start({ WEBHOOK_TOKEN: 's3cr3t-t0ken-4-tests' });
    const response = await h.post(path, '{not even json', headers);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(h.publisher.calls).toBe(0);
  });

  it('refuses clients outside ALLOWED_IPS with 403', async () => {
    const denied = await start({ ALLOWED_IPS: '10.0.0.0/8' });
    const response = await denied.post('/webhook/s3', body);
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: 'RELAY_WEBHOOK_FORBIDDEN' });
    const allowed = await start({ ALLOWED_IPS: '10.0.0.0/8,127.0.0.1' });
    expect((await allowed.post('/webhook/s3', body)).status).toBe(200);
  });

  it('takes the client address from X-Forwarded-For only with TRUST_PROXY (one hop)', async () => {
    const trusted = await start({ ALLOWED_IPS: '10.1.2.3', TRUST_PROXY: 'true' });
    expect(
      (await trusted.post('/webhook/s3', body, { 'x-forwarded-for': '10.1.2.3' })).status,
    ).toBe(200);
    // The leftmost entry is whatever the client sent; only the proxy's own entry counts.
    expect(
      (await trusted.post('/webhook/s3', body, { 'x-forwarded-for': '10.1.2.3, 192.0.2.1' }))
        .status,
    ).toBe(403);
    const untrusted = await start({ ALLOWED_IPS: '10.1.2.3' });
    expect(
      (await untrusted.post('/webhook/s3', body, { 'x-forwarded-for': '10.1.2.3' })).status,
    ).toBe(403);
  });

  it('believes X-Forwarded-For from listed proxy networks only, and through N hops', async () => {
    const forged = { 'x-forwarded-for': '10.1.2.3' };
    // The test client (127.0.0.1) is not the proxy: what it forwards is ignored.
    const elsewhere = await start({ ALLOWED_IPS: '10.1.2.3', TRUST_PROXY: '192.0.2.0/24' });
    expect((await elsewhere.post('/webhook/s3', body, forged)).status).toBe(403);
    const proxy = await start({ ALLOWED_IPS: '10.1.2.3', TRUST_PROXY: 'loopback,192.0.2.0/24' });
    expect((await proxy.post('/webhook/s3', body, forged)).status).toBe(200);
    // Two proxies in a row: the client is the entry before both.
    const chain = { 'x-forwarded-for': '10.1.2.3, 192.0.2.9' };
    expect((await proxy.post('/webhook/s3', body, chain)).status).toBe(200);
    const twoHops = await start({ ALLOWED_IPS: '10.1.2.3', TRUST_PROXY: '2' });
    expect((await twoHops.post('/webhook/s3', body, chain)).status).toBe(200);
    expect((await twoHops.post('/webhook/s3', body, forged)).status).toBe(200);
    const oneHop = await start({ ALLOWED_IPS: '10.1.2.3', TRUST_PROXY: '1' });
    expect((await oneHop.post('/webhook/s3', body, chain)).status).toBe(403);
  });

  it('refuses a request carrying more token candidates than any sender sends', async () => {
    const token = 's3cr3t-t0ken-4-tests';
    const h = await start({ WEBHOOK_TOKEN: token });
    const guesses = ['a', 'b', 'c', 'd', token].map((guess) => `token=${guess}`).join('&');
    const response = await h.post(`/webhook/s3?${guesses}`, body);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'RELAY_WEBHOOK_TOO_MANY_TOKENS' });
    expect(h.publisher.calls).toBe(0);
    // As many as a sender may use: a header, the path and the query.
    const most = await h.post(`/webhook/s3/${token}?token=x&token=${token}`, body, {
      authorization: 'Bearer y',
    });
    expect(most.status).toBe(200);
  });

  it('refuses the whole request when a record is for a bucket outside SOURCE_BUCKETS', async () => {
    const h = await start({ SOURCE_BUCKETS: 'bucket-a' });
    const mixed = JSON.stringify({ Records: [awsRecord('k'), awsRecord('k', 'bucket-b')] });
    const response = await h.post('/webhook/s3', mixed);
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: 'RELAY_WEBHOOK_BUCKET_NOT_ALLOWED' });
    expect(h.publisher.calls).toBe(0);
    expect((await h.post('/webhook/s3', body)).status).toBe(200);
  });
});

describe('publishing failures', () => {
  const body = JSON.stringify({ Records: [awsRecord('k')] });

  it.each([
    ['a nack', new TransientError('RELAY_AMQP_NACKED', 'nacked')],
    ['an unroutable message', new TransientError('RELAY_AMQP_UNROUTABLE', 'returned')],
    ['a confirm timeout', new TransientError('RELAY_AMQP_PUBLISH_TIMEOUT', 'timeout')],
    ['a blocked broker', new TransientError('RELAY_AMQP_BLOCKED', 'blocked')],
  ])('answers 503 with Retry-After on %s', async (_what, failure) => {
    const h = await start();
    h.publisher.failure = failure;
    const response = await h.post('/webhook/s3', body);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(await response.json()).toEqual({ error: failure.code, message: failure.message });
  });

  it('answers 503 while the broker is not ready, and /readyz says so', async () => {
    const h = await start();
    h.publisher.isReady = false;
    const response = await h.post('/webhook/s3', body);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: 'RELAY_AMQP_UNAVAILABLE' });
    expect((await fetch(`${h.url}/readyz`)).status).toBe(503);
  });

  it('still answers handshakes while the broker is down', async () => {
    const h = await start();
    h.publisher.isReady = false;
    expect((await h.post('/webhook', fixtureText('vk-confirmation.json'))).status).toBe(200);
  });

  it('refuses for good (413, no Retry-After) a request with more records than HTTP_MAX_IN_FLIGHT', async () => {
    const h = await start({ HTTP_MAX_IN_FLIGHT: '2' });
    const three = JSON.stringify({ Records: [awsRecord('a'), awsRecord('b'), awsRecord('c')] });
    const response = await h.post('/webhook/s3', three);
    expect(response.status).toBe(413);
    expect(response.headers.get('retry-after')).toBeNull();
    const answer = (await response.json()) as { error: string; message: string };
    expect(answer.error).toBe('RELAY_WEBHOOK_TOO_MANY_RECORDS');
    expect(answer.message).toMatch(/3 records, more than HTTP_MAX_IN_FLIGHT \(2\)/);
    expect(h.publisher.calls).toBe(0);
    // As many as the bound are accepted.
    const two = JSON.stringify({ Records: [awsRecord('a'), awsRecord('b')] });
    expect((await h.post('/webhook/s3', two)).status).toBe(200);
  });

  it('answers 503 while other requests hold the in-flight records a request would need', async () => {
    const h = await start({ HTTP_MAX_IN_FLIGHT: '2' });
    const release = h.publisher.hold();
    const first = h.post('/webhook/s3', JSON.stringify({ Records: [awsRecord('a')] }));
    await vi.waitFor(() => expect(h.publisher.calls).toBe(1));
    const two = JSON.stringify({ Records: [awsRecord('b'), awsRecord('c')] });
    const busy = await h.post('/webhook/s3', two);
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toBe('5');
    expect(await busy.json()).toMatchObject({ error: 'RELAY_AMQP_OVERLOADED' });
    release();
    expect((await first).status).toBe(200);
    expect((await h.post('/webhook/s3', two)).status).toBe(200);
  });

  it('answers 500 without details when the publisher fails unexpectedly', async () => {
    const h = await start();
    h.publisher.failure = new Error('bug');
    const response = await h.post('/webhook/s3', body);
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({
      error: 'RELAY_HTTP_INTERNAL',
      message: 'internal error',
    });
    expect(h.logs.some((line) => line.level === 'error')).toBe(true);
  });

  it('answers 503 and closes connections while shutting down', async () => {
    const h = await start({}, { isClosing: () => true, probe: { state: 'closing', checks: {} } });
    const response = await h.post('/webhook/s3', body);
    expect(response.status).toBe(503);
    expect(response.headers.get('connection')).toBe('close');
    expect(await response.json()).toMatchObject({ error: 'RELAY_SHUTDOWN' });
    expect((await fetch(`${h.url}/readyz`)).status).toBe(503);
  });
});

describe('AWS SNS', () => {
  /** As an operator must: SNS is refused while SNS_TOPIC_ARNS is empty. */
  const startSns = (env: Record<string, string> = {}, overrides: Partial<IngressDeps> = {}) =>
    start({ SNS_TOPIC_ARNS: `${FIXTURE_TOPIC},${TEST_TOPIC}`, ...env }, overrides);

  it('refuses SNS while SNS_TOPIC_ARNS is empty, naming it, unless SNS_ALLOW_ANY_TOPIC', async () => {
    const closed = await start();
    const refused = await closed.post('/webhook/sns', fixtureText('notif-v1.json'));
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({
      error: 'RELAY_SNS_TOPIC_NOT_ALLOWED',
      message: expect.stringContaining('SNS_TOPIC_ARNS') as unknown,
    });
    expect(closed.fetchCertificate).not.toHaveBeenCalled();
    const open = await start({ SNS_ALLOW_ANY_TOPIC: 'true' });
    expect((await open.post('/webhook/sns', fixtureText('notif-v1.json'))).status).toBe(200);
  });

  it.each(['notif-v1.json', 'notif-v2.json'])(
    'accepts the real signed %s (no S3 event inside: nothing published)',
    async (name) => {
      const h = await startSns();
      const response = await h.post('/webhook/sns', fixtureText(name), {
        'content-type': 'text/plain; charset=UTF-8',
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ accepted: 0 });
      expect(h.fetchCertificate).toHaveBeenCalledTimes(1);
    },
  );

  it('detects SNS on POST /webhook', async () => {
    const h = await startSns();
    expect((await h.post('/webhook', fixtureText('notif-v1.json'))).status).toBe(200);
  });

  it('refuses a tampered message with 403', async () => {
    const h = await startSns();
    const tampered = fixtureText('notif-v1.json').replace('has no subject', 'has no subjects');
    const response = await h.post('/webhook/sns', tampered);
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: 'RELAY_SNS_SIGNATURE_INVALID' });
  });

  it('refuses SignatureVersion "3"', async () => {
    const h = await startSns();
    const v3 = fixtureText('notif-v1.json').replace(
      '"SignatureVersion" : "1"',
      '"SignatureVersion" : "3"',
    );
    expect(v3).not.toBe(fixtureText('notif-v1.json'));
    const response = await h.post('/webhook/sns', v3);
    expect(response.status).toBe(403);
    expect(h.fetchCertificate).not.toHaveBeenCalled();
  });

  it.each([
    'http://sns.us-west-2.amazonaws.com/',
    'https://sns.us-west-2.amazonaws.com.evil.com/',
    'https://evil.com/',
  ])('refuses the certificate host %s before fetching', async (prefix) => {
    const h = await startSns();
    const body = fixtureText('notif-v1.json').replace(
      'https://sns.us-west-2.amazonaws.com/',
      prefix,
    );
    const response = await h.post('/webhook/sns', body);
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: 'RELAY_SNS_CERT_URL_INVALID' });
    expect(h.fetchCertificate).not.toHaveBeenCalled();
  });

  it('answers 503 when the certificate cannot be fetched (SNS retries)', async () => {
    const h = await startSns(
      {},
      { fetchCertificate: () => Promise.reject(new Error('ECONNREFUSED')) },
    );
    const response = await h.post('/webhook/sns', fixtureText('notif-v1.json'));
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: 'RELAY_SNS_CERT_UNAVAILABLE' });
  });

  it('confirms a SubscriptionConfirmation exactly once, after verifying it', async () => {
    const h = await startSns();
    const response = await h.post('/webhook/sns', fixtureText('subconf-v1.json'));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ confirmed: true });
    const subscribeUrl = (JSON.parse(fixtureText('subconf-v1.json')) as SnsMessage).SubscribeURL;
    expect(h.confirmSubscription).toHaveBeenCalledTimes(1);
    expect(h.confirmSubscription).toHaveBeenCalledWith(new URL(subscribeUrl ?? '').toString());
    expect(h.fetchCertificate.mock.invocationCallOrder[0]).toBeLessThan(
      h.confirmSubscription.mock.invocationCallOrder[0] ?? 0,
    );
  });

  it('never confirms a topic outside SNS_TOPIC_ARNS', async () => {
    const h = await startSns({
      SNS_TOPIC_ARNS: 'arn:aws:sns:us-west-2:131990247566:another-topic',
    });
    const response = await h.post('/webhook/sns', fixtureText('subconf-v1.json'));
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: 'RELAY_SNS_TOPIC_NOT_ALLOWED' });
    expect(h.confirmSubscription).not.toHaveBeenCalled();
    expect(h.fetchCertificate).not.toHaveBeenCalled();
  });

  it('never confirms a tampered SubscriptionConfirmation', async () => {
    const h = await startSns();
    const tampered = fixtureText('subconf-v1.json').replace('Token=2336', 'Token=2337');
    expect((await h.post('/webhook/sns', tampered)).status).toBe(403);
    expect(h.confirmSubscription).not.toHaveBeenCalled();
  });

  it('answers 503 when visiting the SubscribeURL fails (SNS retries the confirmation)', async () => {
    const h = await startSns(
      {},
      { confirmSubscription: () => Promise.reject(new Error('HTTP 500')) },
    );
    const response = await h.post('/webhook/sns', fixtureText('subconf-v1.json'));
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: 'RELAY_SNS_CONFIRM_FAILED' });
  });

  it('refuses a signed SubscriptionConfirmation whose SubscribeURL is not an SNS confirmation', async () => {
    const h = await startSns({}, { now: () => TEST_TIME });
    for (const subscribeUrl of [
      'https://evil.com/?Action=ConfirmSubscription',
      `https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&TopicArn=${TEST_TOPIC}`,
    ]) {
      const message = signedSns({
        Type: 'SubscriptionConfirmation',
        Message: 'confirm',
        Token: 't',
        SubscribeURL: subscribeUrl,
      });
      const response = await h.post('/webhook/sns', JSON.stringify(message));
      expect(response.status).toBe(403);
      expect(await response.json()).toMatchObject({ error: 'RELAY_SNS_SUBSCRIBE_URL_INVALID' });
    }
    expect(h.confirmSubscription).not.toHaveBeenCalled();
  });

  it('logs an UnsubscribeConfirmation and never visits its SubscribeURL', async () => {
    const h = await startSns({}, { now: () => TEST_TIME });
    const message = signedSns({
      Type: 'UnsubscribeConfirmation',
      Message: 'unsubscribed',
      Token: 't',
      SubscribeURL: `https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${TEST_TOPIC}&Token=t`,
    });
    const response = await h.post('/webhook/sns', JSON.stringify(message));
    expect(response.status).toBe(200);
    expect(h.confirmSubscription).not.toHaveBeenCalled();
    expect(h.logs.map((line) => line.message)).toContain(
      'sns unsubscribe confirmation received; SubscribeURL not visited',
    );
  });

  it('publishes the S3 records inside a Notification (SignatureVersion 1 and 2)', async () => {
    const h = await startSns({}, { now: () => TEST_TIME });
    const v2 = JSON.stringify(
      signedSns(
        {
          Type: 'Notification',
          MessageId: 'm2',
          Message: JSON.stringify({ Records: [awsRecord('b')] }),
        },
        '2',
      ),
    );
    expect((await h.post('/webhook/sns', notification('m1', [awsRecord('a')]))).status).toBe(200);
    expect((await h.post('/webhook/sns', v2)).status).toBe(200);
    const tasks = h.publisher.published.map(
      (m) => JSON.parse(m.body.toString()) as { origin: string; key: string },
    );
    expect(tasks).toEqual([
      expect.objectContaining({ origin: 'sns', key: 'a' }),
      expect.objectContaining({ origin: 'sns', key: 'b' }),
    ]);
  });

  it('publishes a repeated MessageId once inside the window, and again after a failed publish', async () => {
    const h = await startSns({}, { now: () => TEST_TIME });
    h.publisher.failure = new TransientError('RELAY_AMQP_PUBLISH_TIMEOUT', 'timeout');
    expect((await h.post('/webhook/sns', notification('dup', [awsRecord('a')]))).status).toBe(503);
    h.publisher.failure = undefined;
    const first = await h.post('/webhook/sns', notification('dup', [awsRecord('a')]));
    expect(await first.json()).toEqual({ accepted: 1 });
    const again = await h.post('/webhook/sns', notification('dup', [awsRecord('a')]));
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ accepted: 0, duplicate: true });
    expect(h.publisher.published).toHaveLength(1);
  });

  it('refuses a message older than SNS_MAX_AGE as a replay', async () => {
    let now = TEST_TIME;
    const h = await startSns({ SNS_MAX_AGE: '1h' }, { now: () => now });
    const body = notification('late', [awsRecord('a')]);
    now = new Date(TEST_TIME.getTime() + 60 * 60 * 1000 + 1);
    const response = await h.post('/webhook/sns', body);
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: 'RELAY_SNS_REPLAY' });
    expect(h.publisher.calls).toBe(0);
    expect(h.fetchCertificate).not.toHaveBeenCalled();
  });

  it('refuses the real fixtures at the wall clock of today (they are years old)', async () => {
    const h = await startSns({}, { now: () => new Date('2027-01-01T00:00:00Z') });
    expect((await h.post('/webhook/sns', fixtureText('notif-v1.json'))).status).toBe(403);
  });

  it('refuses an unsigned raw-delivery body on the sns route', async () => {
    const h = await startSns();
    const response = await h.post('/webhook/sns', JSON.stringify({ Records: [awsRecord('a')] }), {
      'x-amz-sns-rawdelivery': 'true',
    });
    expect(response.status).toBe(400);
    expect(h.publisher.calls).toBe(0);
  });
});

describe('other routes', () => {
  it('answers HEAD on the webhook paths (MinIO probe) without credentials', async () => {
    const h = await start({ WEBHOOK_TOKEN: 's3cr3t-t0ken-4-tests' });
    for (const path of ['/webhook', '/webhook/minio', '/webhook/minio/anything']) {
      expect((await fetch(h.url + path, { method: 'HEAD' })).status).toBe(200);
    }
  });

  it('answers GET on a webhook path with 405', async () => {
    const h = await start();
    const response = await fetch(`${h.url}/webhook`);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST, HEAD');
  });

  it('answers /ping, /healthz, /readyz and unknown paths', async () => {
    const h = await start();
    const ping = await fetch(`${h.url}/ping`);
    expect(await ping.text()).toBe('Pong\n');
    const health = await fetch(`${h.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({
      status: 'ok',
      state: 'running',
      checks: { publishing: true },
    });
    expect(await (await fetch(`${h.url}/readyz`)).json()).toEqual({
      status: 'ready',
      state: 'running',
      checks: { publishing: true },
    });
    const missing = await fetch(`${h.url}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: 'RELAY_HTTP_NOT_FOUND' });
  });

  it('counts requests and publishes on its own registry, which the webhook port never serves', async () => {
    const h = await start();
    await h.post('/webhook/minio', fixtureText('minio-put.json'));
    await h.post('/webhook/minio', '{');
    expect((await fetch(`${h.url}/metrics`)).status).toBe(404);
    const text = await h.registry.metrics();
    expect(text).toMatch(/s3relay_ingress_requests_total\{source="minio",outcome="accepted"\} 1/);
    expect(text).toMatch(/s3relay_ingress_requests_total\{source="minio",outcome="rejected"\} 1/);
    expect(text).toMatch(/s3relay_ingress_records_published_total\{source="minio"\} 1/);
    expect(text).toMatch(/s3relay_ingress_publish_seconds_count\{result="confirmed"\} 1/);
    expect(text).toMatch(/s3relay_ingress_broker_connected 1/);
  });
});
