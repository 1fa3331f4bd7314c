/**
 * The ingress benchmark's broker ceiling: raw amqplib, one confirm channel, `connections`
 * concurrent lanes each publishing one persistent message to a quorum tasks queue (declared as
 * s3relay declares it) and waiting for its confirm, for `durationMs` after `warmupMs`. Run as
 * `node --import tsx bench/lib/amqp-publish-loop.ts '<json options>'`; prints one JSON line.
 */
import { performance } from 'node:perf_hooks';
import { reportResult } from './node-child.js';
import { openTasksChannel } from './tasks-channel.js';
import { distribution } from './stats.js';

interface Options {
  readonly url: string;
  readonly prefix: string;
  readonly connections: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  /** The message body (a task as the ingress publishes it). */
  readonly body: string;
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const tasks = await openTasksChannel(options.url, options.prefix);
const body = Buffer.from(options.body);

const publishOne = (id: number) =>
  tasks.publish(body, {
    messageId: String(id),
    timestamp: Math.floor(Date.now() / 1000),
    headers: { 'x-s3relay-attempt': 0 },
  });

const started = performance.now();
const measureFrom = started + options.warmupMs;
const end = measureFrom + options.durationMs;
const latencies: number[] = [];
let id = 0;
let cpuAtStart: NodeJS.CpuUsage | undefined;
await Promise.all(
  Array.from({ length: options.connections }, async () => {
    for (;;) {
      const sent = performance.now();
      if (sent >= end) return;
      if (sent >= measureFrom) cpuAtStart ??= process.cpuUsage();
      id += 1;
      await publishOne(id);
      if (sent >= measureFrom) latencies.push(performance.now() - sent);
    }
  }),
);
const elapsedMs = performance.now() - measureFrom;
const cpu = process.cpuUsage(cpuAtStart);
await tasks.connection.close();
const result = {
  count: latencies.length,
  elapsedMs,
  latencyMs: distribution(latencies),
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
};
reportResult(result);
