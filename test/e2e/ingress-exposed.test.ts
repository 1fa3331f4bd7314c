/**
 * An `s3relay ingress` process as a stranger on the network meets it: it will not start with a
 * guessable token, says so when nothing keeps strangers out, believes X-Forwarded-For only from
 * the proxies it is told of, and refuses a request that tries many tokens at once.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessGroup } from '../faults/service-process.js';
import { rabbitUrl, uniquePrefix } from '../helpers/rabbit.js';
import { awsRecord } from '../support/ingress-bed.js';
import { startIngressProcess } from '../support/ingress-process.js';

const TOKEN = 'e2e-token-0123456789abcdef';
const OPEN_WARNING = /accepts webhooks from anyone/;
/**
 * Generous for a loaded machine (its probes alone see 250 ms now and then), yet below what
 * parsing four 8 MB bodies of `[` blocks: 2 s on an idle machine, 8 s measured on a busy one.
 */
const PROBE_BOUND_MS = 1000;
/**
 * From a body's last byte sent to its answer: parsing took 0.5 s per body on an idle machine
 * (1.7-6 s measured on a busy one, against 45-120 ms refused unparsed).
 */
const ANSWER_BOUND_MS = 500;
/**
 * Posts four bodies of 8 MB of `[` at once to argv[1]; prints the status and body of each, and
 * how long its answer took once the whole body was sent (the server's part, not the upload's).
 */
const ATTACKER = `
const { request } = require('node:http');
const body = Buffer.alloc(8 * 1024 * 1024, '[');
const post = () => new Promise((resolve, reject) => {
  let sentAt;
  const req = request(process.argv[1], { method: 'POST' }, (res) => {
    const ms = performance.now() - sentAt;
    let text = '';
    res.setEncoding('utf8').on('data', (chunk) => (text += chunk));
    res.on('end', () => resolve({ status: res.statusCode, body: text, ms }));
  });
  req.on('error', reject);
  req.end(body, () => (sentAt = performance.now()));
});
Promise.all([post(), post(), post(), post()]).then((answers) => console.log(JSON.stringify(answers)));
`;

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

  it('refuses 8 MB of [ within milliseconds while /healthz keeps answering fast', async () => {
    const ingress = await startIngressProcess({ label: 'nesting', cleanups });
    let attacking = true;
    const probeMs: number[] = [];
    const prober = (async () => {
      while (attacking) {
        const started = performance.now();
        expect((await fetch(`${ingress.url}/healthz`)).status).toBe(200);
        probeMs.push(performance.now() - started);
        await sleep(20);
      }
    })();
    // Another process uploads, so that sending 32 MB does not delay this one's probes.
    const attacker = spawn(process.execPath, ['-e', ATTACKER, `${ingress.url}/webhook/s3`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let printed = '';
    attacker.stdout.setEncoding('utf8').on('data', (chunk: string) => (printed += chunk));
    const [code] = (await once(attacker, 'exit')) as [number | null];
    attacking = false;
    await prober;
    expect(code).toBe(0);
    const answers = JSON.parse(printed) as { status: number; body: string; ms: number }[];
    expect(answers).toHaveLength(4);
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      expect(answer.body).toContain('RELAY_WEBHOOK_TOO_DEEP');
    }
    // Parsing one such body held the event loop 0.5 s on an idle machine and 1-3 s on a busy
    // one, and the probe waited as long; refused unparsed, it waits for no more than the upload.
    expect(probeMs.length).toBeGreaterThan(0);
    expect(Math.max(...probeMs), probeMs.map(Math.round).join(' ')).toBeLessThan(PROBE_BOUND_MS);
    console.log(
      'DEBUG',
      probeMs.map(Math.round),
      answers.map((a) => Math.round(a.ms)),
    );
    expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(ANSWER_BOUND_MS);
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
});
