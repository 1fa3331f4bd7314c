/**
 * The webhook pipeline called directly, without a server: the real fixtures of every source in,
 * plain answers out, and an in-memory implementation of our publishing port standing for the
 * broker (test/integration/ingress-publish.test.ts runs it against a real one).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it, vi } from 'vitest';
import { Registry } from 'prom-client';
import {
  TransientError,
  loadConfig,
  parseTask,
  silentLogger,
  vkSignature,
  type Logger,
  type SnsMessage,
  type Task,
} from '@s3relay/core';
import {
  CEPH_CAPTURES,
  readCephCapture,
  readWebhookFixture,
} from '../../../../test/fixtures/webhook-fixtures.js';
import { awsRecord } from '../../../../test/support/ingress-bed.js';
import { MemoryPublisher } from '../../../../test/support/memory-publisher.js';
import {
  FIXTURE_TIME,
  FIXTURE_TOPIC,
  TEST_TIME,
  TEST_TOPIC,
  fetchTestCertificate,
  signedSns,
} from '../../../../test/support/sns-test-signer.js';
import { createIngressMetrics } from '../metrics.js';
import { handleWebhook } from './handle-webhook.js';
import type { WebhookAnswer } from './webhook-answer.js';
import { createWebhookDeps, type WebhookDepsOptions } from './webhook-deps.js';

const TOKEN = 's3cr3t-t0ken-4-tests';
/** Where the test requests are sent, as the Host and scheme a VK handshake is signed over. */
const HOST = 'ingress.test:8080';

interface SendOptions {
  readonly headers?: IncomingHttpHeaders;
  /** @default 127.0.0.1 */
  readonly clientIp?: string;
  /** @default the body, at once */
  readonly readBody?: () => Promise<Buffer>;
}

/** An answer, and how often the pipeline read the body to give it. */
interface Sent extends WebhookAnswer {
  readonly bodyReads: number;
}

function setup(env: Record<string, string> = {}, options: Partial<WebhookDepsOptions> = {}) {
  const publisher = new MemoryPublisher();
  const registry = new Registry();
  const logs: { level: string; message: string; meta: Record<string, unknown> }[] = [];
  const logger: Logger = {
    ...silentLogger,
    info: (message, meta = {}) => logs.push({ level: 'info', message, meta }),
    warn: (message, meta = {}) => logs.push({ level: 'warn', message, meta }),
    error: (message, meta = {}) => logs.push({ level: 'error', message, meta }),
  };
  const fetchCertificate = vi.fn(fetchTestCertificate);
  const confirmSubscription = vi.fn((_url: string) => Promise.resolve());
  const deps = createWebhookDeps({
    config: loadConfig({ AMQP_PREFIX: 'unit', ...env }),
    publisher,
    logger,
    metrics: createIngressMetrics(registry, () => publisher.isReady),
    now: () => FIXTURE_TIME,
    fetchCertificate,
    confirmSubscription,
    ...options,
  });
  /** POSTs `body` to `target` (`/webhook[/<source>[/<token>]][?query]`) as app.ts would. */
  async function send(target: string, body: string | Buffer, init: SendOptions = {}) {
    const [, , source, pathToken] = new URL(target, `http://${HOST}`).pathname.split('/');
    let bodyReads = 0;
    const answer = await handleWebhook(deps, {
      source,
      pathToken,
      pathAndQuery: target,
      protocol: 'http',
      host: HOST,
      headers: { 'content-type': 'application/json', ...init.headers },
      clientIp: init.clientIp ?? '127.0.0.1',
      readBody: () => {
        bodyReads += 1;
        return init.readBody?.() ?? Promise.resolve(Buffer.from(body));
      },
    });
    return { ...answer, bodyReads } satisfies Sent;
  }
  /** The tasks published so far, in order. */
  function tasks(): Task[] {
    return publisher.published.map((message) => {
      const parsed = parseTask(message.body);
      if (!parsed.ok) throw new Error(parsed.reason);
      return parsed.task;
    });
  }
  return { deps, publisher, registry, logs, fetchCertificate, confirmSubscription, send, tasks };
}

function fixture(name: string): string {
  return readWebhookFixture(name).toString('utf8');
}

function recordsBody(...keys: string[]): string {
  return JSON.stringify({ Records: keys.map((key) => awsRecord(key)) });
}

describe('VK Cloud (mcs)', () => {
  const handshake = JSON.parse(fixture('vk-confirmation.json')) as Record<string, string>;
  const signatureOver = (url: string) =>
    vkSignature(
      {
        timestamp: handshake.Timestamp ?? '',
        topicArn: handshake.TopicArn ?? '',
        token: handshake.Token ?? '',
      },
      url,
    );

  it.each(['/webhook', '/webhook/mcs'])(
    'answers the handshake on %s with the signature over the URL it was sent to',
    async (path) => {
      const t = setup();
      const answer = await t.send(path, fixture('vk-confirmation.json'));
      expect(answer).toMatchObject({
        status: 200,
        body: { signature: signatureOver(`http://${HOST}${path}`) },
      });
      expect(t.publisher.calls).toBe(0);
    },
  );

  it('signs the PUBLIC_URLS entry of the path and logs it without the token', async () => {
    const registered = `https://hooks.example.com/webhook/mcs?token=${TOKEN}`;
    const t = setup({ PUBLIC_URLS: registered, WEBHOOK_TOKEN: TOKEN });
    const answer = await t.send(`/webhook/mcs?token=${TOKEN}`, fixture('vk-confirmation.json'));
    expect(answer.body).toEqual({ signature: signatureOver(registered) });
    expect(t.logs.find((line) => line.message === 'vk handshake signed')?.meta).toMatchObject({
      signedUrl: 'https://hooks.example.com/webhook/mcs?token=***',
      signedUrlFrom: 'public-urls',
    });
    expect(JSON.stringify(t.logs)).not.toContain(TOKEN);
  });

  it.each([
    ['created', 's3:ObjectCreated:Put'],
    ['removed', 's3:ObjectRemoved:Delete'],
  ])('publishes an object %s event as one task', async (kind, sent) => {
    const t = setup();
    const body = fixture('vk-notification.json').replace('s3:ObjectCreated:Put', sent);
    expect(body).toContain(sent);
    const answer = await t.send('/webhook', body);
    expect(answer).toMatchObject({ status: 200, body: { accepted: 1 } });
    expect(t.tasks()).toEqual([
      expect.objectContaining({
        origin: 'mcs',
        kind,
        // Without the "s3:" prefix VK (like MinIO) puts on event names.
        eventName: sent.slice('s3:'.length),
        bucket: 'bucketA',
        key: 'some-file-to-bucket',
        receivedAt: FIXTURE_TIME.toISOString(),
      }),
    ]);
  });
});

describe('MinIO', () => {
  it('publishes its event with the key decoded, as a task message to the tasks queue', async () => {
    const t = setup({ WEBHOOK_TOKEN: TOKEN });
    // MinIO sends its auth_token as a Bearer token.
    const answer = await t.send('/webhook/minio', fixture('minio-put.json'), {
      headers: { authorization: `Bearer ${TOKEN}`, 'x-request-id': 'req-1' },
    });
    expect(answer).toEqual({
      status: 200,
      headers: { 'X-Request-Id': 'req-1' },
      body: { accepted: 1 },
      bodyReads: 1,
    });
    const [task] = t.tasks();
    expect(task).toMatchObject({
      origin: 'minio',
      kind: 'created',
      bucket: 'mybucket',
      key: 'photos/my file+1.jpg',
    });
    expect(t.publisher.published[0]).toMatchObject({
      queue: 'unit.tasks',
      messageId: task?.id,
      headers: { 'x-s3relay-attempt': 0 },
    });
  });
});

describe('Ceph RGW', () => {
  it.each(CEPH_CAPTURES)('publishes the captured %s with its key raw', async (name) => {
    const capture = readCephCapture(name);
    const sent = JSON.parse(capture.body.toString('utf8')) as {
      Records: [{ s3: { bucket: { name: string }; object: { key: string } } }];
    };
    const t = setup();
    const answer = await t.send(capture.url, capture.body, { headers: capture.headers });
    expect(answer).toMatchObject({ status: 200, body: { accepted: 1 } });
    expect(t.tasks()).toEqual([
      expect.objectContaining({
        origin: 'ceph',
        kind: name.includes('ObjectRemoved') ? 'removed' : 'created',
        bucket: sent.Records[0].s3.bucket.name,
        // RGW sends keys raw: a form decoding would turn "+" into a space.
        key: sent.Records[0].s3.object.key,
      }),
    ]);
  });

  it('takes the token from the path, since RGW sends no credentials', async () => {
    const t = setup({ WEBHOOK_TOKEN: TOKEN });
    const answer = await t.send(`/webhook/ceph/${TOKEN}`, fixture('ceph-put.json'));
    expect(answer.status).toBe(200);
    expect(t.tasks()).toEqual([
      expect.objectContaining({ origin: 'ceph', bucket: 'mybucket1', key: 'photos/my file+1.jpg' }),
    ]);
  });
});

describe('AWS SNS', () => {
  const sns = { SNS_TOPIC_ARNS: `${FIXTURE_TOPIC},${TEST_TOPIC}` };

  function notification(messageId: string, keys: string[]): string {
    return JSON.stringify(
      signedSns({
        Type: 'Notification',
        MessageId: messageId,
        Subject: 'Amazon S3 Notification',
        Message: recordsBody(...keys),
      }),
    );
  }

  it.each(['notif-v1.json', 'notif-v2.json'])(
    'verifies the real %s and publishes nothing (it carries no S3 event)',
    async (name) => {
      const t = setup(sns);
      const answer = await t.send('/webhook/sns', fixture(name), {
        headers: { 'content-type': 'text/plain; charset=UTF-8' },
      });
      expect(answer).toMatchObject({ status: 200, body: { accepted: 0 } });
      expect(t.fetchCertificate).toHaveBeenCalledTimes(1);
      expect(t.publisher.calls).toBe(0);
    },
  );

  it('confirms the real SubscriptionConfirmation once, after verifying it', async () => {
    const t = setup(sns);
    const answer = await t.send('/webhook', fixture('subconf-v1.json'));
    expect(answer).toMatchObject({ status: 200, body: { confirmed: true } });
    const { SubscribeURL } = JSON.parse(fixture('subconf-v1.json')) as SnsMessage;
    expect(t.confirmSubscription).toHaveBeenCalledExactlyOnceWith(
      new URL(SubscribeURL ?? '').toString(),
    );
    expect(t.fetchCertificate).toHaveBeenCalledBefore(t.confirmSubscription);
  });

  it('publishes the records of a signed Notification once per MessageId', async () => {
    const t = setup(sns, { now: () => TEST_TIME });
    expect((await t.send('/webhook/sns', notification('m1', ['a', 'b']))).body).toEqual({
      accepted: 2,
    });
    expect((await t.send('/webhook/sns', notification('m1', ['a', 'b']))).body).toEqual({
      accepted: 0,
      duplicate: true,
    });
    expect(t.tasks().map((task) => [task.origin, task.key])).toEqual([
      ['sns', 'a'],
      ['sns', 'b'],
    ]);
  });

  it('refuses a topic outside SNS_TOPIC_ARNS before fetching anything', async () => {
    const t = setup({ SNS_TOPIC_ARNS: TEST_TOPIC });
    const answer = await t.send('/webhook/sns', fixture('subconf-v1.json'));
    expect(answer).toMatchObject({ status: 403, body: { error: 'RELAY_SNS_TOPIC_NOT_ALLOWED' } });
    expect(t.fetchCertificate).not.toHaveBeenCalled();
    expect(t.confirmSubscription).not.toHaveBeenCalled();
  });

  it('refuses a tampered message with 403 and never confirms it', async () => {
    const t = setup(sns);
    const tampered = fixture('subconf-v1.json').replace('Token=2336', 'Token=2337');
    const answer = await t.send('/webhook/sns', tampered);
    expect(answer).toMatchObject({ status: 403, body: { error: 'RELAY_SNS_SIGNATURE_INVALID' } });
    expect(t.confirmSubscription).not.toHaveBeenCalled();
  });
});

describe('bad bodies', () => {
  const deep = `{"Records":[${'['.repeat(100)}${']'.repeat(100)}]}`;

  it.each([
    [
      'malformed JSON',
      '/webhook/minio',
      '{"Records":[',
      'RELAY_WEBHOOK_MALFORMED_JSON',
      /not JSON/,
    ],
    ['an empty body', '/webhook/minio', '', 'RELAY_WEBHOOK_MALFORMED_JSON', /not JSON/],
    [
      'bytes that are not UTF-8',
      '/webhook/minio',
      Buffer.from([0x7b, 0xff, 0x7d]),
      'RELAY_WEBHOOK_MALFORMED_JSON',
      /not UTF-8/,
    ],
    ['a JSON array', '/webhook/minio', '[]', 'RELAY_WEBHOOK_INVALID_BODY', /a JSON object/],
    [
      'Records not an array',
      '/webhook/s3',
      '{"Records":{}}',
      'RELAY_WEBHOOK_INVALID_BODY',
      /Records must be an array/,
    ],
    [
      'one invalid record among good ones',
      '/webhook/s3',
      JSON.stringify({ Records: [awsRecord('good'), { eventName: 'ObjectCreated:Put' }] }),
      'RELAY_WEBHOOK_INVALID_BODY',
      /Records\[1\]/,
    ],
    ['nesting too deep', '/webhook/s3', deep, 'RELAY_WEBHOOK_TOO_DEEP', /deeper than 64/],
    [
      'a body no source sends',
      '/webhook',
      '{"hello":"world"}',
      'RELAY_WEBHOOK_UNKNOWN_SOURCE',
      /post it to \/webhook\/<source>/,
    ],
  ])(
    'refuses %s with 400, saying why, and publishes nothing',
    async (_what, path, body, code, why) => {
      const t = setup();
      const answer = await t.send(path, body);
      expect(answer).toMatchObject({ status: 400, body: { error: code } });
      expect(answer.body.message).toMatch(why);
      expect(answer.headers).not.toHaveProperty('Retry-After');
      expect(t.publisher.calls).toBe(0);
      expect(t.logs.at(-1)).toMatchObject({
        level: 'warn',
        message: 'webhook',
        meta: { outcome: 'rejected', status: 400, code },
      });
    },
  );

  it('refuses a body the HTTP layer found over HTTP_BODY_LIMIT with 413', async () => {
    const t = setup();
    // What body-parser rejects with (an http-errors instance).
    const tooLarge = Object.assign(new Error('request entity too large'), {
      type: 'entity.too.large',
      status: 413,
      expose: true,
    });
    const answer = await t.send('/webhook/s3', '', { readBody: () => Promise.reject(tooLarge) });
    expect(answer).toMatchObject({ status: 413, body: { error: 'RELAY_WEBHOOK_TOO_LARGE' } });
    expect(t.publisher.calls).toBe(0);
  });
});

describe('sender checks, before the body is read', () => {
  const body = recordsBody('k');

  it.each([
    ['a Bearer header', '/webhook/s3', { authorization: `Bearer ${TOKEN}` }],
    [
      'Basic credentials',
      '/webhook/s3',
      { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` },
    ],
    ['a path segment', `/webhook/s3/${TOKEN}`, {}],
    ['a token query', `/webhook/s3?token=${TOKEN}`, {}],
  ])('accepts WEBHOOK_TOKEN as %s', async (_what, path, headers) => {
    const t = setup({ WEBHOOK_TOKEN: TOKEN });
    expect((await t.send(path, body, { headers })).status).toBe(200);
  });

  it.each([
    ['no token', '/webhook/s3', {}],
    ['a wrong Bearer', '/webhook/s3', { authorization: 'Bearer nope' }],
    ['a wrong path segment', '/webhook/s3/nope', {}],
  ])('refuses %s with 401 and WWW-Authenticate', async (_what, path, headers) => {
    const t = setup({ WEBHOOK_TOKEN: TOKEN });
    const answer = await t.send(path, body, { headers });
    expect(answer).toMatchObject({
      status: 401,
      headers: { 'WWW-Authenticate': 'Bearer realm="s3relay"' },
      body: { error: 'RELAY_WEBHOOK_UNAUTHORIZED' },
      bodyReads: 0,
    });
    expect(t.publisher.calls).toBe(0);
  });

  it('refuses more token candidates than any sender sends with 400', async () => {
    const t = setup({ WEBHOOK_TOKEN: TOKEN });
    const guesses = ['a', 'b', 'c', 'd', TOKEN].map((guess) => `token=${guess}`).join('&');
    const answer = await t.send(`/webhook/s3?${guesses}`, body);
    expect(answer).toMatchObject({
      status: 400,
      body: { error: 'RELAY_WEBHOOK_TOO_MANY_TOKENS' },
      bodyReads: 0,
    });
  });

  it('refuses a client outside ALLOWED_IPS with 403, and accepts one inside', async () => {
    const t = setup({ ALLOWED_IPS: '10.0.0.0/8' });
    const outside = await t.send('/webhook/s3', body, { clientIp: '192.0.2.1' });
    expect(outside).toMatchObject({
      status: 403,
      body: { error: 'RELAY_WEBHOOK_FORBIDDEN' },
      bodyReads: 0,
    });
    expect((await t.send('/webhook/s3', body, { clientIp: '10.1.2.3' })).status).toBe(200);
  });

  it('answers an unknown source in the path with 404', async () => {
    const t = setup();
    const answer = await t.send('/webhook/gcs', body);
    expect(answer).toMatchObject({
      status: 404,
      body: { error: 'RELAY_HTTP_NOT_FOUND' },
      bodyReads: 0,
    });
  });

  it('refuses the whole request when a record is for a bucket outside SOURCE_BUCKETS', async () => {
    const t = setup({ SOURCE_BUCKETS: 'bucket-a' });
    const mixed = JSON.stringify({ Records: [awsRecord('k'), awsRecord('k', 'bucket-b')] });
    const answer = await t.send('/webhook/s3', mixed);
    expect(answer).toMatchObject({
      status: 403,
      body: { error: 'RELAY_WEBHOOK_BUCKET_NOT_ALLOWED' },
    });
    expect(t.publisher.calls).toBe(0);
  });
});

describe('publishing', () => {
  it('answers only after the confirm', async () => {
    const t = setup();
    const events: string[] = [];
    const release = t.publisher.hold();
    const pending = t.send('/webhook/s3', recordsBody('k')).then((answer) => {
      events.push(`answered ${answer.status}`);
      return answer;
    });
    await vi.waitFor(() => expect(t.publisher.calls).toBe(1));
    // Let everything that does not wait for the confirm run: an early answer would land here.
    await new Promise((resolve) => setImmediate(resolve));
    events.push('confirmed');
    release();
    await pending;
    expect(events).toEqual(['confirmed', 'answered 200']);
    expect(t.tasks()).toHaveLength(1);
  });

  it.each([
    ['a nack', new TransientError('RELAY_AMQP_NACKED', 'nacked')],
    ['an unroutable message', new TransientError('RELAY_AMQP_UNROUTABLE', 'returned')],
    ['a confirm timeout', new TransientError('RELAY_AMQP_PUBLISH_TIMEOUT', 'timeout')],
    ['a blocked broker', new TransientError('RELAY_AMQP_BLOCKED', 'blocked')],
  ])('answers 503 with Retry-After on %s, never 2xx', async (_what, failure) => {
    const t = setup();
    const release = t.publisher.hold();
    const pending = t.send('/webhook/s3', recordsBody('k'));
    await vi.waitFor(() => expect(t.publisher.calls).toBe(1));
    t.publisher.failure = failure;
    release();
    expect(await pending).toMatchObject({
      status: 503,
      headers: { 'Retry-After': '5' },
      body: { error: failure.code, message: failure.message },
    });
    expect(t.publisher.published).toEqual([]);
    expect(t.logs.at(-1)).toMatchObject({ level: 'warn', meta: { outcome: 'unavailable' } });
  });

  it('answers 503 at once while the broker is away, and handshakes still work', async () => {
    const t = setup();
    t.publisher.isReady = false;
    expect(await t.send('/webhook/s3', recordsBody('k'))).toMatchObject({
      status: 503,
      body: { error: 'RELAY_AMQP_UNAVAILABLE' },
    });
    expect((await t.send('/webhook', fixture('vk-confirmation.json'))).status).toBe(200);
  });

  it('refuses for good (413, no Retry-After) more records than HTTP_MAX_IN_FLIGHT', async () => {
    const t = setup({ HTTP_MAX_IN_FLIGHT: '2' });
    const answer = await t.send('/webhook/s3', recordsBody('a', 'b', 'c'));
    expect(answer).toMatchObject({
      status: 413,
      body: { error: 'RELAY_WEBHOOK_TOO_MANY_RECORDS' },
    });
    expect(answer.body.message).toMatch(/3 records, more than HTTP_MAX_IN_FLIGHT \(2\)/);
    expect(answer.headers).not.toHaveProperty('Retry-After');
    expect(t.publisher.calls).toBe(0);
    expect((await t.send('/webhook/s3', recordsBody('a', 'b'))).status).toBe(200);
  });

  it('answers 503 while other requests hold the records in flight, and frees them after', async () => {
    const t = setup({ HTTP_MAX_IN_FLIGHT: '2' });
    const release = t.publisher.hold();
    const first = t.send('/webhook/s3', recordsBody('a'));
    await vi.waitFor(() => expect(t.publisher.calls).toBe(1));
    expect(await t.send('/webhook/s3', recordsBody('b', 'c'))).toMatchObject({
      status: 503,
      headers: { 'Retry-After': '5' },
      body: { error: 'RELAY_AMQP_OVERLOADED' },
    });
    t.publisher.failure = new TransientError('RELAY_AMQP_NACKED', 'nacked');
    release();
    expect((await first).status).toBe(503);
    // A failed publish gives its room back too.
    t.publisher.failure = undefined;
    expect((await t.send('/webhook/s3', recordsBody('b', 'c'))).status).toBe(200);
  });

  it('answers 500 without details when the publisher fails unexpectedly, and logs it', async () => {
    const t = setup();
    const bug = new Error('bug');
    t.publisher.failure = bug;
    const answer = await t.send('/webhook/s3', recordsBody('k'));
    expect(answer).toMatchObject({
      status: 500,
      body: { error: 'RELAY_HTTP_INTERNAL', message: 'internal error' },
    });
    expect(t.logs.at(-1)).toMatchObject({
      level: 'error',
      message: 'webhook',
      meta: { outcome: 'error', error: bug },
    });
  });

  it('answers 503 without reading the body once shutdown began', async () => {
    let closing = false;
    const t = setup({}, { isClosing: () => closing });
    closing = true;
    expect(await t.send('/webhook/s3', recordsBody('k'))).toMatchObject({
      status: 503,
      headers: { 'Retry-After': '5' },
      body: { error: 'RELAY_SHUTDOWN' },
      bodyReads: 0,
    });
  });
});

describe('what is counted and logged', () => {
  it('counts every request by source and outcome, and logs one line each', async () => {
    const t = setup();
    await t.send('/webhook/minio', fixture('minio-put.json'), {
      headers: { 'x-request-id': 'req-1' },
    });
    const refused = await t.send('/webhook/minio', '{', {
      headers: { 'x-request-id': 'bad id with spaces' },
    });
    const text = await t.registry.metrics();
    expect(text).toMatch(/s3relay_ingress_requests_total\{source="minio",outcome="accepted"\} 1/);
    expect(text).toMatch(/s3relay_ingress_requests_total\{source="minio",outcome="rejected"\} 1/);
    expect(text).toMatch(/s3relay_ingress_records_published_total\{source="minio"\} 1/);
    expect(text).toMatch(/s3relay_ingress_publish_seconds_count\{result="confirmed"\} 1/);
    const lines = t.logs.filter((line) => line.message === 'webhook');
    expect(lines.map((line) => line.meta)).toEqual([
      expect.objectContaining({ requestId: 'req-1', source: 'minio', records: 1, status: 200 }),
      expect.objectContaining({ source: 'minio', code: 'RELAY_WEBHOOK_MALFORMED_JSON' }),
    ]);
    // An X-Request-Id that is not a sane token is replaced, and the new one answered.
    expect(refused.headers['X-Request-Id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines[1]?.meta.requestId).toBe(refused.headers['X-Request-Id']);
  });
});
