/**
 * An `s3relay ingress` process as a stranger on the network meets it: it will not start with a
 * guessable token, says so when nothing keeps strangers out, believes X-Forwarded-For only from
 * the proxies it is told of, refuses a request that tries many tokens at once, cuts clients that
 * send slowly, closes connections beyond its cap, and refuses for good a request it could never
 * accept.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { CONNECTIONS_CHECK_INTERVAL_MS } from '@s3relay/ingress';
import { ProcessGroup } from '../faults/service-process.js';
import { eventually } from '../helpers/eventually.js';
import { statusOnce } from '../helpers/http-once.js';
import { cpuMs } from '../helpers/processes.js';
import { queueDepth, rabbitUrl, uniquePrefix } from '../helpers/rabbit.js';
import { awsRecord } from '../support/ingress-bed.js';
import { startIngressProcess } from '../support/ingress-process.js';

const TOKEN = 'e2e-token-0123456789abcdef';
const OPEN_WARNING = /accepts webhooks from anyone/;
/**
 * Posts four bodies of 8 MB of `[` at once to argv[1]; prints the status and body of each, and
 * how long its answer took once the whole body was sent (the server's part, not the upload's).
 */
const ATTACKER = `
const { request } = require('node:http');
const body = Buffer.alloc(8 * 1024 * 1024, '[');
const post = () => new Promise((resolve, reject) => {
  const req = request(process.argv[1], { method: 'POST' }, (res) => {
    let text = '';
    res.setEncoding('utf8').on('data', (chunk) => (text += chunk));
    res.on('end', () => resolve({ status: res.statusCode, body: text }));
  });
  req.on('error', reject);
  req.end(body);
});
Promise.all([post(), post(), post(), post()]).then((answers) => console.log(JSON.stringify(answers)));
`;

/** Beyond a timeout, what a loaded machine may add to Node's check interval before the cut. */
const CUT_SLACK_MS = 1500;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function post(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    body: JSON.stringify({ Records: [awsRecord('exposed.txt')] }),
    headers: { 'content-type': 'application/json', ...headers },
  });
}

describe('an exposed ingress', () => {
  it('refuses to start with a WEBHOOK_TOKEN that is short or blank, naming it', async () => {
    const logDir = await mkdtemp(join(tmpdir(), 's3relay-token-'));
    cleanups.push(() => rm(logDir, { recursive: true, force: true }));
    const group = new ProcessGroup(logDir, {
      AMQP_URL: rabbitUrl(),
      AMQP_PREFIX: uniquePrefix('weak-token'),
      HTTP_PORT: '0',
    });
    for (const [token, why] of [
      ['a', 'shorter than 16'],
      ['   ', 'blank'],
    ] as const) {
      const { exit, output } = await group.run(
        'ingress',
        ['ingress'],
        { WEBHOOK_TOKEN: token },
        60_000,
      );
      expect(exit.code, output).toBe(2);
      expect(output).toContain('WEBHOOK_TOKEN');
      expect(output).toContain(why);
      expect(output).not.toMatch(/ingress listening/);
    }
  });

  it('warns once at startup when nothing keeps strangers out, and not otherwise', async () => {
    const open = await startIngressProcess({ label: 'open', cleanups });
    expect(
      open
        .output()
        .split('\n')
        .filter((line) => OPEN_WARNING.test(line)),
    ).toHaveLength(1);
    const warning = JSON.parse(
      open
        .output()
        .split('\n')
        .find((line) => OPEN_WARNING.test(line)) ?? '{}',
    ) as { level?: string; message?: string };
    expect(warning.level).toBe('warn');
    for (const name of ['WEBHOOK_TOKEN', 'ALLOWED_IPS', 'SOURCE_BUCKETS']) {
      expect(warning.message).toContain(name);
    }

    const closed = await startIngressProcess({
      label: 'closed',
      cleanups,
      env: { WEBHOOK_TOKEN: TOKEN },
    });
    expect(closed.output()).not.toMatch(OPEN_WARNING);
  });

  it('believes a forged X-Forwarded-For only from a listed proxy, not from a direct client', async () => {
    const forged = { 'x-forwarded-for': '203.0.113.7' };
    const env = { ALLOWED_IPS: '203.0.113.7', WEBHOOK_TOKEN: TOKEN };
    const auth = { authorization: `Bearer ${TOKEN}` };
    // The proxy sits elsewhere: this client (127.0.0.1) reached the ingress directly.
    const listed = await startIngressProcess({
      label: 'proxy-cidr',
      cleanups,
      env: { ...env, TRUST_PROXY: '192.0.2.0/24' },
    });
    const refused = await post(`${listed.url}/webhook/s3`, { ...forged, ...auth });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: 'RELAY_WEBHOOK_FORBIDDEN' });
    // A hop count believes whatever connects: the reason to list the proxies instead.
    const hops = await startIngressProcess({
      label: 'proxy-hops',
      cleanups,
      env: { ...env, TRUST_PROXY: 'true' },
    });
    expect((await post(`${hops.url}/webhook/s3`, { ...forged, ...auth })).status).toBe(200);
  });

  it('refuses a request that carries many token guesses, the right one among them', async () => {
    const ingress = await startIngressProcess({
      label: 'guesses',
      cleanups,
      env: { WEBHOOK_TOKEN: TOKEN },
    });
    const guesses = Array.from({ length: 50 }, (_, i) => `token=guess-${i}`);
    const response = await post(
      `${ingress.url}/webhook/s3?${[...guesses, `token=${TOKEN}`].join('&')}`,
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'RELAY_WEBHOOK_TOO_MANY_TOKENS' });
    expect((await post(`${ingress.url}/webhook/s3?token=${TOKEN}`)).status).toBe(200);
  });

  it('refuses 8 MB of [ unparsed, spending less CPU on four than parsing two takes, while /healthz answers', async () => {
    const ingress = await startIngressProcess({ label: 'nesting', cleanups });
    // What parsing one such body costs: the ingress would spend at least this per body.
    const attack = Buffer.alloc(8 * 1024 * 1024, '[').toString();
    const before = process.cpuUsage();
    expect(() => JSON.parse(attack) as unknown).toThrow();
    const { user, system } = process.cpuUsage(before);
    const parseCpuMs = (user + system) / 1000;

    let attacking = true;
    let probes = 0;
    const prober = (async () => {
      while (attacking) {
        expect((await fetch(`${ingress.url}/healthz`)).status).toBe(200);
        probes += 1;
        // Paces the prober while the attack runs; orders nothing.
        await sleep(20);
      }
    })();
    const cpuBefore = await cpuMs(ingress.process.pid);
    // Another process uploads, so that sending 32 MB does not delay this one's probes.
    const attacker = spawn(process.execPath, ['-e', ATTACKER, `${ingress.url}/webhook/s3`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let printed = '';
    attacker.stdout.setEncoding('utf8').on('data', (chunk: string) => (printed += chunk));
    const [code] = (await once(attacker, 'exit')) as [number | null];
    attacking = false;
    await prober;
    const ingressCpuMs = (await cpuMs(ingress.process.pid)) - cpuBefore;
    expect(code).toBe(0);
    const answers = JSON.parse(printed) as { status: number; body: string }[];
    expect(answers).toHaveLength(4);
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      expect(answer.body).toContain('RELAY_WEBHOOK_TOO_DEEP');
    }
    expect(probes).toBeGreaterThan(0);
    // CPU, not durations: a busy machine stretches every duration, but not the work done. Parsed,
    // the four bodies would have cost the ingress's event loop (and its probes) 4 × parseCpuMs;
    // refused unparsed, receiving them costs about a third of one (210 of 597 ms measured).
    expect(ingressCpuMs, `parsing one body: ${Math.round(parseCpuMs)} ms`).toBeLessThan(
      2 * parseCpuMs,
    );
  });

  it('serves /metrics on its metrics port only, not to whoever can post webhooks', async () => {
    const ingress = await startIngressProcess({ label: 'metrics', cleanups });
    expect((await post(`${ingress.url}/webhook/s3`)).status).toBe(200);
    const onWebhookPort = await fetch(`${ingress.url}/metrics`);
    expect(onWebhookPort.status).toBe(404);
    expect(await onWebhookPort.text()).not.toContain('nodejs_version_info');
    // The probes stay where the orchestrator looks for them.
    expect((await fetch(`${ingress.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${ingress.url}/readyz`)).status).toBe(200);

    expect(ingress.metricsUrl).not.toBe(ingress.url);
    const scraped = await fetch(`${ingress.metricsUrl}/metrics`);
    expect(scraped.status).toBe(200);
    const text = await scraped.text();
    expect(text).toMatch(/s3relay_ingress_requests_total\{source="s3",outcome="accepted"\} 1/);
    expect(text).toContain('nodejs_version_info');
    expect((await fetch(`${ingress.metricsUrl}/readyz`)).status).toBe(200);
  });

  it('cuts a client that sends its headers slowly, and one that sends its body slowly, in time', async () => {
    const headersTimeoutMs = 2000;
    const requestTimeoutMs = 3000;
    const ingress = await startIngressProcess({
      label: 'slow-clients',
      cleanups,
      env: {
        HTTP_HEADERS_TIMEOUT_MS: String(headersTimeoutMs),
        HTTP_REQUEST_TIMEOUT_MS: String(requestTimeoutMs),
      },
    });
    const { port } = new URL(ingress.url);
    const slowHeaders = trickle(Number(port), 'POST /webhook/s3 HTTP/1.1\r\nHost: x\r\n', () =>
      Buffer.from('X-Padding: a\r\n'),
    );
    const body = JSON.stringify({ Records: [awsRecord('slow.txt')] });
    const slowBody = trickle(
      Number(port),
      `POST /webhook/s3 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      (sent) => Buffer.from(body.slice(sent, sent + 1)),
    );
    const [headersCut, bodyCut] = await Promise.all([slowHeaders, slowBody]);
    // Each was still sending when it was cut, and was told why.
    for (const cut of [headersCut, bodyCut]) expect(cut.answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(headersCut.ms).toBeGreaterThanOrEqual(headersTimeoutMs - 100);
    expect(headersCut.ms).toBeLessThan(
      headersTimeoutMs + CONNECTIONS_CHECK_INTERVAL_MS + CUT_SLACK_MS,
    );
    expect(bodyCut.ms).toBeGreaterThanOrEqual(requestTimeoutMs - 100);
    expect(bodyCut.ms).toBeLessThan(
      requestTimeoutMs + CONNECTIONS_CHECK_INTERVAL_MS + CUT_SLACK_MS,
    );
    expect(await queueDepth(rabbitUrl(), `${ingress.prefix}.tasks`)).toBe(0);
  });

  it('closes connections beyond HTTP_MAX_CONNECTIONS unanswered while the probes on the metrics port answer', async () => {
    const cap = 4;
    const ingress = await startIngressProcess({
      label: 'connection-cap',
      cleanups,
      env: { HTTP_MAX_CONNECTIONS: String(cap) },
    });
    const { port } = new URL(ingress.url);
    // Each has had an answer, so the server holds it (idle, kept alive). One at a time, each
    // tried again while the readiness probe's connection may still be closing.
    const held: Socket[] = [];
    cleanups.push(() => {
      for (const socket of held) socket.destroy();
      return Promise.resolve();
    });
    while (held.length < cap) {
      held.push(await eventually(() => keptAlive(Number(port)), { timeoutMs: 5000 }));
    }

    const refusedBefore = await refusedConnections(ingress.metricsUrl);
    await expect(statusOnce(`${ingress.url}/healthz`)).rejects.toThrow();
    await expect(statusOnce(`${ingress.url}/webhook/s3`)).rejects.toThrow();
    expect(await statusOnce(`${ingress.metricsUrl}/healthz`)).toBe(200);
    expect(await statusOnce(`${ingress.metricsUrl}/readyz`)).toBe(200);
    expect(await refusedConnections(ingress.metricsUrl)).toBe(refusedBefore + 2);

    // A held connection that goes makes room for one more.
    held.pop()?.end();
    await eventually(async () => expect(await statusOnce(`${ingress.url}/healthz`)).toBe(200));
  });

  it('refuses for good (413) a request with more records than HTTP_MAX_IN_FLIGHT, publishing none', async () => {
    const ingress = await startIngressProcess({
      label: 'too-many-records',
      cleanups,
      env: { HTTP_MAX_IN_FLIGHT: '2' },
    });
    const response = await fetch(`${ingress.url}/webhook/s3`, {
      method: 'POST',
      body: JSON.stringify({ Records: ['a', 'b', 'c'].map((key) => awsRecord(key)) }),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get('retry-after')).toBeNull();
    const answer = (await response.json()) as { error: string; message: string };
    expect(answer.error).toBe('RELAY_WEBHOOK_TOO_MANY_RECORDS');
    expect(answer.message).toContain('HTTP_MAX_IN_FLIGHT');
    expect(await queueDepth(rabbitUrl(), `${ingress.prefix}.tasks`)).toBe(0);
  });
});

/**
 * Connects, writes `start`, then one `next(bytesSentSoFar)` every 200 ms until the server
 * closes the connection; resolves with what the server wrote and when it closed (ms after
 * connecting).
 */
async function trickle(
  port: number,
  start: string,
  next: (sent: number) => Buffer,
): Promise<{ answer: string; ms: number }> {
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  const connectedAt = performance.now();
  let answer = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
  socket.on('error', () => undefined);
  socket.write(start);
  let sent = 0;
  const timer = setInterval(() => {
    const chunk = next(sent);
    sent += chunk.length;
    if (chunk.length > 0 && socket.writable) socket.write(chunk);
  }, 200);
  await once(socket, 'close');
  clearInterval(timer);
  return { answer, ms: performance.now() - connectedAt };
}

/** A connection that got an answer to a keep-alive GET and stays open; rejects if closed. */
async function keptAlive(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  const answered = new Promise<string>((resolve, reject) => {
    socket.once('data', (chunk: Buffer) => resolve(chunk.toString('utf8')));
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed unanswered')));
  });
  socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
  try {
    expect(await answered).toMatch(/^HTTP\/1\.1 200 /);
  } catch (err) {
    socket.destroy();
    throw err;
  }
  socket.on('error', () => undefined);
  return socket;
}

/** `s3relay_ingress_connections_refused_total` as the metrics port reports it. */
async function refusedConnections(metricsUrl: string): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const match = /^s3relay_ingress_connections_refused_total (\d+)$/m.exec(text);
  if (match?.[1] === undefined) throw new Error('no s3relay_ingress_connections_refused_total');
  return Number(match[1]);
}
