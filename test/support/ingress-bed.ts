import { expect } from 'vitest';
import { loadConfig, silentLogger } from '@s3relay/core';
import { createIngress, type Ingress, type IngressOptions } from '@s3relay/ingress';
import { eventually } from '../helpers/eventually.js';
import { deleteQueuesWithPrefix, rabbitUrl, uniquePrefix } from '../helpers/rabbit.js';

/** An in-process ingress on a free loopback port with its own queue prefix. */
export interface TestIngress {
  readonly ingress: Ingress;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `http://127.0.0.1:<port>` of its metrics port (HTTP_METRICS_PORT), where /metrics is. */
  readonly metricsUrl: string;
  readonly prefix: string;
  readonly tasksQueue: string;
}

export interface TestIngressOptions {
  /** Names the queue prefix. */
  readonly label: string;
  /** Variables on top of the test defaults. */
  readonly env?: Record<string, string>;
  readonly options?: Partial<IngressOptions>;
  /** Where the ingress connects. @default rabbitUrl() */
  readonly amqpUrl?: string;
  /** Where its queues are deleted afterwards (a proxied URL may be black-holed by then). */
  readonly cleanupUrl?: string;
  /** @default true */
  readonly waitReady?: boolean;
  readonly readyTimeoutMs?: number;
  /** Receives the cleanup (close, delete the queues), for the test's afterEach. */
  readonly cleanups: (() => Promise<void>)[];
}

export async function startTestIngress(options: TestIngressOptions): Promise<TestIngress> {
  const prefix = uniquePrefix(options.label);
  const config = loadConfig({
    AMQP_URL: options.amqpUrl ?? rabbitUrl(),
    AMQP_PREFIX: prefix,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    HTTP_METRICS_PORT: '0',
    ...options.env,
  });
  const ingress = createIngress({ config, logger: silentLogger, ...options.options });
  options.cleanups.push(async () => {
    await ingress.close();
    await deleteQueuesWithPrefix(options.cleanupUrl ?? rabbitUrl(), prefix);
  });
  await ingress.start();
  if (options.waitReady !== false) {
    await eventually(() => expect(ingress.isReady).toBe(true), {
      message: 'ingress ready',
      timeoutMs: options.readyTimeoutMs,
    });
  }
  return {
    ingress,
    url: ingress.url ?? '',
    metricsUrl: `http://127.0.0.1:${ingress.metricsPort ?? 0}`,
    prefix,
    tasksQueue: `${prefix}.tasks`,
  };
}

/** One AWS S3 event record (eventVersion 2.1) of a created object. */
export function awsRecord(key: string, bucket = 'bucket-a') {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'us-east-1',
    eventTime: '2026-01-01T00:00:00.000Z',
    eventName: 'ObjectCreated:Put',
    s3: {
      s3SchemaVersion: '1.0',
      bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` },
      object: { key, size: 10, eTag: 'e', sequencer: '00AA' },
    },
  };
}
