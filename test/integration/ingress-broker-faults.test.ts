/**
 * The ingress when the broker is slow, black-holed, blocked or down: it answers 2xx only after
 * the confirm, 503 (with Retry-After) within PUBLISH_TIMEOUT_MS otherwise, never hangs, and
 * recovers by itself. Faults come from a TCP proxy between the ingress and RabbitMQ and from a
 * private RabbitMQ node that can be blocked and stopped.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Ingress } from '@s3relay/ingress';
import { eventually } from '../helpers/eventually.js';
import { startPrivateRabbit, type PrivateRabbit } from '../helpers/private-rabbit.js';
import { queueDepth, rabbitUrl } from '../helpers/rabbit.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { awsRecord, startTestIngress } from '../support/ingress-bed.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Started {
  readonly ingress: Ingress;
  readonly tasksQueue: string;
  post(count?: number): Promise<Response>;
}

let keyCounter = 0;

function recordsBody(count: number): string {
  return JSON.stringify({
    Records: Array.from({ length: count }, () => {
      keyCounter += 1;
      return awsRecord(`k${keyCounter}`, 'faults');
    }),
  });
}

/** Starts an ingress whose broker is `amqpUrl`; `cleanupUrl` reaches the same broker directly. */
async function startIngress(
  amqpUrl: string,
  env: Record<string, string>,
  cleanupUrl = rabbitUrl(),
): Promise<Started> {
  const { ingress, url, tasksQueue } = await startTestIngress({
    label: 'ingress-faults',
    amqpUrl,
    cleanupUrl,
    env: { AMQP_HEARTBEAT_SECONDS: '1', SHUTDOWN_TIMEOUT_MS: '10000', ...env },
    readyTimeoutMs: 20_000,
    cleanups,
  });
  return {
    ingress,
    tasksQueue,
    post: (count = 1) =>
      fetch(`${url}/webhook/s3`, {
        method: 'POST',
        body: recordsBody(count),
        headers: { 'content-type': 'application/json' },
      }),
  };
}

/** The time a request takes, with its answer. */
async function timed(request: Promise<Response>): Promise<{ response: Response; ms: number }> {
  const started = Date.now();
  const response = await request;
  return { response, ms: Date.now() - started };
}

describe('through a TCP proxy', () => {
  let proxy: TcpProxy;

  beforeAll(async () => {
    proxy = await startTcpProxy({ port: Number(new URL(rabbitUrl()).port || 5672) });
  });
  afterAll(async () => {
    await proxy.close();
  });
  afterEach(() => {
    proxy.release();
    proxy.setDelay(0);
    proxy.setMode('pass');
  });

  // Tests that hold the broker's side of the connection (its confirms) set a heartbeat longer
  // than the test, so that missing heartbeats cannot end the connection while it is held.

  it('answers 2xx only after the broker confirmed, however late the confirm', async () => {
    const s = await startIngress(proxy.url(rabbitUrl()), {
      PUBLISH_TIMEOUT_MS: '30000',
      AMQP_HEARTBEAT_SECONDS: '60',
    });
    // Warm up: the publish channel opens on first use, which costs round trips.
    expect((await s.post()).status).toBe(200);
    proxy.hold('down');
    let answered = false;
    const request = s.post(2).then((response) => {
      answered = true;
      return response;
    });
    // The messages are in the queue; their confirms wait in the proxy.
    await eventually(async () => expect(await queueDepth(rabbitUrl(), s.tasksQueue)).toBe(3), {
      timeoutMs: 20_000,
    });
    expect(answered).toBe(false);
    proxy.release();
    const response = await request;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ accepted: 2 });
  });

  it('answers 503 within PUBLISH_TIMEOUT_MS when confirms come too late', async () => {
    const s = await startIngress(proxy.url(rabbitUrl()), {
      PUBLISH_TIMEOUT_MS: '1000',
      AMQP_HEARTBEAT_SECONDS: '60',
    });
    expect((await s.post()).status).toBe(200);
    proxy.hold('down');
    const { response, ms } = await timed(s.post());
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(await response.json()).toMatchObject({ error: 'RELAY_AMQP_PUBLISH_TIMEOUT' });
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(2500);
    // The late confirm, once it comes, changes nothing: the next webhook is accepted.
    proxy.release();
    expect((await s.post()).status).toBe(200);
  });

  it('answers 503 within the timeout when the broker is black-holed, then recovers', async () => {
    const s = await startIngress(proxy.url(rabbitUrl()), { PUBLISH_TIMEOUT_MS: '1500' });
    expect((await s.post()).status).toBe(200);
    proxy.setMode('drop');
    const { response, ms } = await timed(s.post());
    expect(response.status).toBe(503);
    expect(ms).toBeLessThan(2500);
    // The heartbeat (1 s) notices the dead path: readiness follows, answers stay fast 503s.
    await eventually(() => expect(s.ingress.isReady).toBe(false), { timeoutMs: 10_000 });
    const whileDown = await timed(s.post());
    expect(whileDown.response.status).toBe(503);
    expect(whileDown.ms).toBeLessThan(500);
    proxy.setMode('pass');
    await eventually(() => expect(s.ingress.isReady).toBe(true), { timeoutMs: 20_000 });
    expect((await s.post()).status).toBe(200);
  });

  it('answers 503 when its connection is reset mid-publish, then recovers', async () => {
    const s = await startIngress(proxy.url(rabbitUrl()), {
      PUBLISH_TIMEOUT_MS: '30000',
      AMQP_HEARTBEAT_SECONDS: '60',
    });
    expect((await s.post()).status).toBe(200);
    proxy.hold('down');
    const request = s.post(5);
    // Mid-publish: the messages are in the queue, their confirms wait in the proxy.
    await eventually(async () => expect(await queueDepth(rabbitUrl(), s.tasksQueue)).toBe(6), {
      timeoutMs: 20_000,
    });
    proxy.resetAll();
    const response = await request;
    expect(response.status).toBe(503);
    // amqplib fails the pending confirms with an error, which the Publisher reports as a nack;
    // not a publish timeout: the reset, not the clock, answered.
    const { error } = (await response.json()) as { error: string };
    expect(['RELAY_AMQP_UNAVAILABLE', 'RELAY_AMQP_NACKED']).toContain(error);
    proxy.release();
    await eventually(() => expect(s.ingress.isReady).toBe(true), { timeoutMs: 10_000 });
    expect((await s.post()).status).toBe(200);
  });

  it('on close, answers the request whose confirm is pending before closing', async () => {
    const s = await startIngress(proxy.url(rabbitUrl()), {
      PUBLISH_TIMEOUT_MS: '30000',
      AMQP_HEARTBEAT_SECONDS: '60',
    });
    expect((await s.post()).status).toBe(200);
    proxy.hold('down');
    const request = s.post(3);
    await eventually(async () => expect(await queueDepth(rabbitUrl(), s.tasksQueue)).toBe(4), {
      timeoutMs: 20_000,
    });
    let closed = false;
    const url = s.ingress.url ?? '';
    const closing = s.ingress.close().then(() => {
      closed = true;
    });
    expect(s.ingress.isReady).toBe(false);
    // The server stopped listening, and closing waits for the request whose confirm is held.
    await eventually(() => expect(fetch(`${url}/healthz`)).rejects.toThrow());
    expect(closed).toBe(false);
    proxy.release();
    const response = await request;
    expect(response.status).toBe(200);
    expect(response.headers.get('connection')).toBe('close');
    expect(closed).toBe(false);
    await closing;
    expect(s.ingress.state).toBe('closed');
  });
});

describe('on a private RabbitMQ node', () => {
  let rabbit: PrivateRabbit;

  beforeAll(async () => {
    rabbit = await startPrivateRabbit();
  }, 90_000);
  afterAll(async () => {
    await rabbit.dispose();
  });

  it('answers 503 at once while the broker blocks publishers (memory alarm)', async () => {
    const s = await startIngress(rabbit.url, { PUBLISH_TIMEOUT_MS: '3000' }, rabbit.url);
    expect((await s.post()).status).toBe(200);
    await rabbit.setMemoryAlarm(true);
    try {
      await eventually(
        async () => {
          const { response, ms } = await timed(s.post());
          expect(response.status).toBe(503);
          expect(await response.json()).toMatchObject({ error: 'RELAY_AMQP_BLOCKED' });
          expect(ms).toBeLessThan(500);
        },
        { timeoutMs: 15_000, intervalMs: 200 },
      );
      expect((await fetch(`${s.ingress.url ?? ''}/readyz`)).status).toBe(503);
    } finally {
      await rabbit.setMemoryAlarm(false);
    }
    await eventually(async () => expect((await s.post()).status).toBe(200), {
      timeoutMs: 15_000,
      intervalMs: 200,
    });
  });

  it('answers 503 while the broker is down and recovers when it is back', async () => {
    const s = await startIngress(rabbit.url, { PUBLISH_TIMEOUT_MS: '3000' }, rabbit.url);
    expect((await s.post()).status).toBe(200);
    await rabbit.stop();
    try {
      await eventually(() => expect(s.ingress.isReady).toBe(false), { timeoutMs: 10_000 });
      const { response, ms } = await timed(s.post());
      expect(response.status).toBe(503);
      expect(ms).toBeLessThan(500);
    } finally {
      await rabbit.start();
    }
    await eventually(() => expect(s.ingress.isReady).toBe(true), { timeoutMs: 30_000 });
    expect((await s.post()).status).toBe(200);
    expect(await queueDepth(rabbit.url, s.tasksQueue)).toBe(2);
  });
});
