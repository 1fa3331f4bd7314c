/**
 * Availability of an `s3relay ingress` process whose broker connection is cut every 700 ms (a
 * TCP proxy resets it): senders post at a steady rate and each webhook is tried once. The
 * ingress reconnects at once after a connection that was up, so that it is connected most of
 * the time and accepts at least half of the webhooks — and whatever it answered 2xx is in the
 * tasks queue.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { parseTask } from '@s3relay/core';
import { eventually } from '../helpers/eventually.js';
import { consumeAll, rabbitUrl } from '../helpers/rabbit.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { awsRecord } from '../support/ingress-bed.js';
import { startIngressProcess } from '../support/ingress-process.js';

/**
 * Fewer than the 3,000 of the report, at the same churn: 600 webhooks over 12 s still see 17
 * cuts, and 50 a second leave a 2-core machine shared with other test runs the CPU to reconnect.
 * Measured: 80-86 % accepted at load average 8 (1,200 at 100 a second), 41-63 % at 20; 29 % at 8
 * when every cut waited 250 ms before reconnecting.
 */
const WEBHOOKS = 600;
const WEBHOOKS_PER_SECOND = 50;
const CUT_EVERY_MS = 700;
const LEAST_ACCEPTED_SHARE = 0.5;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('ingress under broker connection churn', () => {
  it(
    'accepts at least half of the webhooks while its connection is cut every 700 ms, and queues every one it accepted',
    { timeout: 120_000 },
    async () => {
      const broker = new URL(rabbitUrl());
      const proxy = await startTcpProxy({ port: Number(broker.port || 5672) });
      cleanups.push(() => proxy.close());
      const ingress = await startIngressProcess({
        label: 'churn',
        cleanups,
        env: { AMQP_URL: proxy.url(rabbitUrl()), PUBLISH_TIMEOUT_MS: '3000' },
      });
      const url = `${ingress.url}/webhook/s3`;

      let cuts = 0;
      const cutter = setInterval(() => {
        proxy.resetAll();
        cuts += 1;
      }, CUT_EVERY_MS);
      const statuses = new Map<number, number>();
      const accepted: string[] = [];
      const post = async (index: number) => {
        const key = `churn/${index}`;
        const response = await fetch(url, {
          method: 'POST',
          body: JSON.stringify({ Records: [awsRecord(key)] }),
          headers: { 'content-type': 'application/json' },
        });
        await response.arrayBuffer();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        if (response.status === 200) accepted.push(key);
      };
      // Open-loop, as independent senders are: a fast 503 does not bring the next webhook sooner.
      const started = performance.now();
      const posts: Promise<void>[] = [];
      try {
        for (let index = 0; index < WEBHOOKS; index += 1) {
          const due = started + (index * 1000) / WEBHOOKS_PER_SECOND;
          const wait = due - performance.now();
          if (wait > 0) await sleep(wait);
          posts.push(post(index));
        }
        await Promise.all(posts);
      } finally {
        clearInterval(cutter);
      }

      const share = accepted.length / WEBHOOKS;
      const summary = `${accepted.length}/${WEBHOOKS} accepted, ${cuts} cuts, statuses ${JSON.stringify([...statuses])}`;
      expect(cuts, summary).toBeGreaterThanOrEqual(10);
      // Only the two answers a sender can act on: done, or retry later.
      expect([...statuses.keys()].filter((status) => status !== 200 && status !== 503)).toEqual([]);
      expect(share, summary).toBeGreaterThanOrEqual(LEAST_ACCEPTED_SHARE);

      await eventually(
        async () => expect((await fetch(`${ingress.url}/readyz`)).status).toBe(200),
        { message: 'ingress ready again' },
      );
      const queued = new Set<string>();
      for (const message of await consumeAll(rabbitUrl(), `${ingress.prefix}.tasks`)) {
        const parsed = parseTask(message.content);
        if (parsed.ok) queued.add(parsed.task.key);
      }
      expect(accepted.filter((key) => !queued.has(key))).toEqual([]);
    },
  );
});
