/**
 * The ingress benchmark's broker ceiling: raw amqplib, one confirm channel, `connections`
 * concurrent lanes each publishing one persistent message to a quorum tasks queue (declared as
 * s3relay declares it) and waiting for its confirm, for `durationMs` after `warmupMs`. Run as
 * `node --import tsx bench/lib/amqp-publish-loop.ts '<json options>'`; prints one JSON line.
 */
import { performance } from 'node:perf_hooks';
import amqp from 'amqplib';
import { declareTopology } from '@s3relay/core/amqp';
import { reportResult } from './node-child.js';
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
const connection = await amqp.connect(options.url);
const names = await declareTopology(connection, {
  prefix: options.prefix,
  retryDelaysMs: [1000],
  deliveryLimit: 10,
  quorumGroupSize: 3,
});
const channel = await connection.createConfirmChannel();
const body = Buffer.from(options.body);

const publishOne = (id: number) =>
  new Promise<void>((resolve, reject) => {
    channel.publish(
      '',
      names.tasks,
      body,
      {
        persistent: true,
        mandatory: true,
        contentType: 'application/json',
        messageId: String(id),
        timestamp: Math.floor(Date.now() / 1000),
        headers: { 'x-s3relay-attempt': 0 },
      },
      (err: unknown) =>
        err === null || err === undefined ? resolve() : reject(new Error('nacked')),
    );
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
await connection.close();
const result = {
  count: latencies.length,
  elapsedMs,
  latencyMs: distribution(latencies),
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
};
reportResult(result);
