/**
 * The ingress against a real RabbitMQ: what it answers 2xx is in the tasks queue, what it refuses
 * publishes nothing, and a request is accepted or refused whole.
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, parseTask, vkSignature } from '@s3relay/core';
import { createIngress, type Ingress, type IngressOptions } from '@s3relay/ingress';
import { readWebhookFixture } from '../fixtures/webhook-fixtures.js';
import { captureLog } from '../helpers/log-capture.js';
import { isListening } from '../helpers/ports.js';
import {
  connectionNames,
  deleteQueuesWithPrefix,
  drainQueue,
  queueDepth,
  rabbitUrl,
  uniquePrefix,
  withChannel,
} from '../helpers/rabbit.js';
import { awsRecord, startTestIngress } from '../support/ingress-bed.js';

interface Started {
  readonly ingress: Ingress;
  readonly url: string;
  readonly prefix: string;
  readonly tasksQueue: string;
  post(path: string, body: string, headers?: Record<string, string>): Promise<Response>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startIngress(
  env: Record<string, string> = {},
  options: Partial<IngressOptions> = {},
  waitReady = true,
): Promise<Started> {
  const started = await startTestIngress({
    label: 'ingress',
    env: { SHUTDOWN_TIMEOUT_MS: '5000', ...env },
    options,
    waitReady,
    cleanups,
  });
  return {
    ...started,
    post: (path, body, headers = {}) =>
      fetch(started.url + path, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', ...headers },
      }),
  };
}

function recordsBody(count: number, bucket = 'bucket-a'): string {
  return JSON.stringify({
    Records: Array.from({ length: count }, (_, i) => awsRecord(`k/${i}`, bucket)),
  });
}

describe('ingress publishing to RabbitMQ', () => {
  it('answers 200 once the task is in the queue, as a persistent JSON message', async () => {
    const s = await startIngress();
    const response = await s.post(
      '/webhook/minio',
      readWebhookFixture('minio-put.json').toString('utf8'),
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ accepted: 1 });
    // Confirmed before the answer: the message is there without waiting.
    expect(await queueDepth(rabbitUrl(), s.tasksQueue)).toBe(1);
    const [message] = await drainQueue(rabbitUrl(), s.tasksQueue);
    const parsed = parseTask(message?.content ?? Buffer.alloc(0));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.task).toMatchObject({ origin: 'minio', bucket: 'mybucket' });
    expect(message?.properties).toMatchObject({
      messageId: parsed.task.id,
      contentType: 'application/json',
      deliveryMode: 2,
      headers: { 'x-s3relay-attempt': 0 },
    });
  });

  it('accepts a 10,000-record body whole', async () => {
    const s = await startIngress({ PUBLISH_TIMEOUT_MS: '30000' });
    const response = await s.post('/webhook/s3', recordsBody(10_000));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ accepted: 10_000 });
    expect(await queueDepth(rabbitUrl(), s.tasksQueue)).toBe(10_000);
  });

  it('refuses a 10,000-record body whole with a permanent 413 when HTTP_MAX_IN_FLIGHT is smaller', async () => {
    const s = await startIngress({ HTTP_MAX_IN_FLIGHT: '100' });
    const response = await s.post('/webhook/s3', recordsBody(10_000));
    // It can never succeed: a 503 would have the sender retry it forever.
    expect(response.status).toBe(413);
    expect(response.headers.get('retry-after')).toBeNull();
    expect(await response.json()).toMatchObject({ error: 'RELAY_WEBHOOK_TOO_MANY_RECORDS' });
    expect(await queueDepth(rabbitUrl(), s.tasksQueue)).toBe(0);
  });

  it('answers 503 when the broker returns the message as unroutable', async () => {
    const s = await startIngress();
    await withChannel(rabbitUrl(), (channel) => channel.deleteQueue(s.tasksQueue));
    const started = Date.now();
    const response = await s.post('/webhook/s3', recordsBody(3));
    expect(response.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(response.headers.get('retry-after')).not.toBeNull();
    expect(await response.json()).toMatchObject({ error: 'RELAY_AMQP_UNROUTABLE' });
  });

  it('publishes nothing for any bad input, then accepts a good one', async () => {
    const s = await startIngress({
      HTTP_BODY_LIMIT: '64kb',
      WEBHOOK_TOKEN: 's3cr3t-t0ken-4-tests',
      SOURCE_BUCKETS: 'bucket-a',
    });
    const auth = { authorization: 'Bearer s3cr3t-t0ken-4-tests' };
    const refusals: [string, string, Record<string, string>, number][] = [
      ['/webhook/s3', '{"Records":[', auth, 400],
      ['/webhook/s3', '{"Records":"no"}', auth, 400],
      ['/webhook/s3', '{"Records":[{"eventName":1}]}', auth, 400],
      ['/webhook/s3', '{}', auth, 400],
      ['/webhook/s3', recordsBody(1000), auth, 413],
      ['/webhook/gcs', recordsBody(1), auth, 404],
      ['/webhook', '{"what":"ever"}', auth, 400],
      ['/webhook/s3', recordsBody(1), {}, 401],
      ['/webhook/s3/wrong', recordsBody(1), {}, 401],
      ['/webhook/s3', recordsBody(1, 'bucket-b'), auth, 403],
    ];
    for (const [path, body, headers, status] of refusals) {
      const response = await s.post(path, body, headers);
      expect({ path, status: response.status }).toEqual({ path, status });
      const answer = (await response.json()) as { error: unknown; message: unknown };
      expect(typeof answer.error).toBe('string');
      expect(typeof answer.message).toBe('string');
    }
    expect(await queueDepth(rabbitUrl(), s.tasksQueue)).toBe(0);
    expect((await s.post('/webhook/s3/s3cr3t-t0ken-4-tests', recordsBody(2))).status).toBe(200);
    expect((await s.post('/webhook/s3?token=s3cr3t-t0ken-4-tests', recordsBody(1))).status).toBe(
      200,
    );
    expect(await queueDepth(rabbitUrl(), s.tasksQueue)).toBe(3);
  });

  it('refuses clients outside ALLOWED_IPS and accepts those inside', async () => {
    const denied = await startIngress({ ALLOWED_IPS: '192.0.2.0/24' });
    expect((await denied.post('/webhook/s3', recordsBody(1))).status).toBe(403);
    expect(await queueDepth(rabbitUrl(), denied.tasksQueue)).toBe(0);
    const allowed = await startIngress({ ALLOWED_IPS: '192.0.2.0/24,127.0.0.0/8' });
    expect((await allowed.post('/webhook/s3', recordsBody(1))).status).toBe(200);
  });

  it('answers the MinIO HEAD probe and GET /ping', async () => {
    const s = await startIngress({ WEBHOOK_TOKEN: 's3cr3t-t0ken-4-tests' });
    const head = await fetch(`${s.url}/webhook/minio`, {
      method: 'HEAD',
      headers: { authorization: 'Bearer s3cr3t-t0ken-4-tests' },
    });
    expect(head.status).toBe(200);
    expect(await (await fetch(`${s.url}/ping`)).text()).toBe('Pong\n');
  });
});

describe('ingress without a broker', () => {
  it('answers webhooks 503 at once and handshakes 200, and is not ready', async () => {
    // Nothing listens on port 1: every connect attempt fails.
    const s = await startIngress(
      { AMQP_URL: 'amqp://guest:guest@127.0.0.1:1', PUBLISH_TIMEOUT_MS: '10000' },
      {},
      false,
    );
    expect(s.ingress.isReady).toBe(false);
    expect((await fetch(`${s.url}/readyz`)).status).toBe(503);
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    const started = Date.now();
    const response = await s.post('/webhook/s3', recordsBody(1));
    expect(response.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await response.json()).toMatchObject({ error: 'RELAY_AMQP_UNAVAILABLE' });
    const vk = readWebhookFixture('vk-confirmation.json').toString('utf8');
    const handshake = await s.post('/webhook/mcs', vk);
    expect(handshake.status).toBe(200);
    const fields = JSON.parse(vk) as { Timestamp: string; TopicArn: string; Token: string };
    expect(await handshake.json()).toEqual({
      signature: vkSignature(
        { timestamp: fields.Timestamp, topicArn: fields.TopicArn, token: fields.Token },
        `${s.url}/webhook/mcs`,
      ),
    });
  });
});

describe('ingress shutdown', () => {
  it('answers a request in flight, then stops listening; close is idempotent', async () => {
    const s = await startIngress();
    const port = s.ingress.port ?? 0;
    const body = recordsBody(2);
    // A request whose body is only half sent when shutdown begins.
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const ended = new Promise((resolve) => socket.once('close', resolve));
    // Node answers `100 Continue` once it parsed the headers, before the app sees the request:
    // from then on the request is in flight.
    const continued = once(socket, 'data');
    socket.write(
      `POST /webhook/s3 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Expect: 100-continue\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
        body.slice(0, 100),
    );
    const [interim] = (await continued) as [Buffer];
    expect(interim.toString('latin1')).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const closing = s.ingress.close();
    expect(s.ingress.state).toBe('closing');
    expect(s.ingress.isReady).toBe(false);
    socket.write(body.slice(100));
    await ended;
    await closing;
    const response = Buffer.concat(chunks).toString('utf8');
    expect(response).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(response).toMatch(/connection: close/i);
    expect(await queueDepth(rabbitUrl(), s.tasksQueue)).toBe(2);
    await expect(s.ingress.close()).resolves.toBeUndefined();
    expect(s.ingress.state).toBe('closed');
    await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
  });
});

describe('ingress: a start that fails', () => {
  it('ends failed with its metrics port free and no broker connection when HTTP_PORT is taken', async () => {
    const taken = createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    cleanups.push(() => new Promise((resolve) => taken.close(() => resolve())));
    const port = (taken.address() as AddressInfo).port;
    const prefix = uniquePrefix('ingress-failed');
    const log = captureLog('ingress');
    const ingress = createIngress({
      config: loadConfig({
        AMQP_URL: rabbitUrl(),
        AMQP_PREFIX: prefix,
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: String(port),
        HTTP_METRICS_PORT: '0',
      }),
      logger: log.logger,
    });
    cleanups.push(async () => {
      await ingress.close();
      await deleteQueuesWithPrefix(rabbitUrl(), prefix);
    });
    await expect(ingress.start()).rejects.toMatchObject({
      code: 'RELAY_CONFIG_INVALID',
      message: expect.stringContaining(`HTTP_PORT=${port}`) as unknown,
    });
    expect(ingress.state).toBe('failed');
    // Its metrics port and its broker connection were up when the webhook port was refused.
    expect(log.withMessage('broker connected')).toHaveLength(1);
    expect(await isListening(ingress.metricsPort ?? 0)).toBe(false);
    expect(await connectionNames({ nameContains: `s3relay-ingress ${prefix} ` })).toEqual([]);
  });
});
