/**
 * WEBHOOK_TOKEN never reaches a log or a terminal: a real `s3relay ingress` signs a VK handshake
 * for a PUBLIC_URLS entry carrying the token (and logs its whole configuration at debug level),
 * and `s3relay config` prints the same configuration; the token appears in none of it, in any of
 * the three places a URL carries it (query, path segment, user info).
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { readWebhookFixture } from '../fixtures/webhook-fixtures.js';
import { startIngressProcess } from '../support/ingress-process.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('the webhook token in printed URLs', () => {
  it('is redacted in the handshake log, the debug configuration and s3relay config', async () => {
    const token = `t0ken-${randomUUID()}`;
    const ingress = await startIngressProcess({
      label: 'redact',
      cleanups,
      env: {
        LOG_LEVEL: 'debug',
        WEBHOOK_TOKEN: token,
        PUBLIC_URLS: [
          `http://hooks.example.com/webhook/mcs?token=${token}`,
          `https://hooks.example.com/webhook/ceph/${token}`,
          `https://sns:${token}@hooks.example.com/webhook/sns`,
        ].join(','),
      },
    });

    const response = await fetch(`${ingress.url}/webhook/mcs?token=${token}`, {
      method: 'POST',
      body: readWebhookFixture('vk-confirmation.json'),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toHaveProperty('signature');

    const signed = await ingress.process.waitForLine(/"vk handshake signed"/, 10_000);
    expect(JSON.parse(signed)).toMatchObject({
      signedUrl: 'http://hooks.example.com/webhook/mcs?token=***',
    });
    // `sign --help` points at fields of that line, and at no other.
    const help = await ingress.run(['sign', '--help']);
    const fields = [...help.output.matchAll(/`(\w+)`/g)].map((match) => match[1]);
    expect(fields, help.output).toContain('signedUrl');
    const loggedFields = Object.keys(JSON.parse(signed) as Record<string, unknown>);
    for (const field of fields) expect(loggedFields).toContain(field);
    const configuration = await ingress.process.waitForLine(/"configuration"/, 10_000);
    expect(configuration).toContain('webhook/ceph/***');
    expect(configuration).toContain('https://sns:***@hooks.example.com');
    expect(ingress.output()).not.toContain(token);

    for (const args of [['config'], ['--json', 'config']]) {
      const printed = await ingress.run(args);
      expect(printed.code, printed.output).toBe(0);
      expect(printed.output).toContain('webhook/mcs?token=***');
      expect(printed.output).toContain('webhook/ceph/***');
      expect(printed.output).not.toContain(token);
    }
  });
});
