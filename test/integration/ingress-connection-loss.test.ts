/**
 * The ingress's promise under broker connection loss: whatever it answered 2xx is in the tasks
 * queue. Thousands of webhooks are posted while the ingress's broker connections are force-closed
 * again and again (rabbitmqctl close_connection); a sender that gets a 503 retries, as SNS and
 * MinIO do.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { parseTask } from '@s3relay/core';
import { eventually } from '../helpers/eventually.js';
import { closeConnections, consumeAll, rabbitUrl } from '../helpers/rabbit.js';
import { awsRecord, startTestIngress } from '../support/ingress-bed.js';

const WEBHOOKS = 3000;
const CONCURRENCY = 16;
const MAX_ATTEMPTS = 200;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function body(index: number): string {
  return JSON.stringify({ Records: keysOf(index).map((key) => awsRecord(key, 'load')) });
}

function keysOf(index: number): string[] {
  return index % 3 === 0 ? [`w${index}/a`, `w${index}/b`] : [`w${index}/a`];
}

describe('ingress under broker connection loss', () => {
  it(
    'keeps every 2xx-answered record while connections are cut repeatedly',
    { timeout: 120_000 },
    async () => {
      const started = await startTestIngress({
        label: 'ingress-cut',
        env: { PUBLISH_TIMEOUT_MS: '3000' },
        cleanups,
      });
      const { ingress, prefix } = started;
      const url = `${started.url}/webhook/s3`;

      /** Per webhook: the attempt that got 2xx (1 = first). */
      const acceptedOnAttempt = new Map<number, number>();
      const statuses = new Map<number, number>();
      const errorCodes = new Set<string>();
      let missingRetryAfter = 0;
      let next = 0;
      let done = false;
      const deadline = Date.now() + 60_000;

      async function send(index: number): Promise<void> {
        for (let attempt = 1; attempt <= MAX_ATTEMPTS && Date.now() < deadline; attempt += 1) {
          const response = await fetch(url, {
            method: 'POST',
            body: body(index),
            headers: { 'content-type': 'application/json' },
          });
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          if (response.status === 200) {
            await response.text();
            acceptedOnAttempt.set(index, attempt);
            return;
          }
          if (response.headers.get('retry-after') === null) missingRetryAfter += 1;
          const answer = (await response.json()) as { error: string };
          errorCodes.add(answer.error);
          // A sender's pause before its retry: paces load, orders nothing.
          await sleep(50);
        }
      }

      const cutter = (async () => {
        let cuts = 0;
        while (!done) {
          cuts += await closeConnections({ nameContains: prefix, reason: 'ingress load test' });
          // The cutter's period while the load runs: paces faults, orders nothing.
          await sleep(500);
        }
        return cuts;
      })();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < WEBHOOKS) {
            const index = next;
            next += 1;
            await send(index);
          }
        }),
      );
      done = true;
      const cuts = await cutter;

      // The faults happened, and were answered the way senders retry on.
      expect(cuts).toBeGreaterThan(0);
      expect(statuses.get(503) ?? 0).toBeGreaterThan(0);
      expect([...statuses.keys()].sort()).toEqual([200, 503]);
      expect(missingRetryAfter).toBe(0);
      const expectedCodes = [
        'RELAY_AMQP_UNAVAILABLE',
        'RELAY_AMQP_PUBLISH_TIMEOUT',
        'RELAY_AMQP_NACKED',
        'RELAY_AMQP_BLOCKED',
      ] as string[];
      expect([...errorCodes].filter((code) => !expectedCodes.includes(code))).toEqual([]);
      // Every webhook got through in the end (the ingress recovered each time).
      expect(acceptedOnAttempt.size).toBe(WEBHOOKS);

      await eventually(() => expect(ingress.isReady).toBe(true), { message: 'recovered' });
      const messages = await consumeAll(rabbitUrl(), `${prefix}.tasks`);
      const copies = new Map<string, number>();
      for (const message of messages) {
        const parsed = parseTask(message.content);
        expect(parsed.ok).toBe(true);
        if (!parsed.ok) continue;
        expect(message.properties.messageId).toBe(parsed.task.id);
        copies.set(parsed.task.key, (copies.get(parsed.task.key) ?? 0) + 1);
      }
      const missing: string[] = [];
      const duplicatedFirstTry: string[] = [];
      for (const [index, attempt] of acceptedOnAttempt) {
        for (const key of keysOf(index)) {
          const count = copies.get(key) ?? 0;
          if (count === 0) missing.push(key);
          // Sent once and answered 200: exactly one copy. Retried ones may have more (a 503'd
          // attempt can have reached the queue), which the task contract allows.
          if (attempt === 1 && count !== 1) duplicatedFirstTry.push(`${key}×${count}`);
        }
      }
      expect(missing).toEqual([]);
      expect(duplicatedFirstTry).toEqual([]);
    },
  );
});
