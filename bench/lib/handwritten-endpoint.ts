/**
 * The ingress benchmark's ceiling for the whole job: an Express 5 endpoint written by hand with
 * amqplib's confirm channel. It parses the JSON body, publishes one persistent task per record
 * to a quorum tasks queue declared as s3relay declares it (mandatory, as the ingress publishes),
 * awaits the confirms and answers 200 — and does nothing else: no validation beyond JSON, no
 * deterministic task id, no in-flight bound or publish timeout, no metrics, no log line. Run as
 * `node --import tsx bench/lib/handwritten-endpoint.ts '<json options>'`; prints `listening`
 * once it is.
 */
import { randomUUID } from 'node:crypto';
import express from 'express';
import { openTasksChannel } from './tasks-channel.js';

interface Options {
  readonly port: number;
  readonly url: string;
  readonly prefix: string;
}

interface VkRecord {
  readonly eventName?: string;
  readonly s3?: {
    readonly bucket?: { readonly name?: string };
    readonly object?: { readonly key?: string; readonly size?: number; readonly eTag?: string };
  };
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const tasks = await openTasksChannel(options.url, options.prefix);

/** Publishes one task for `record` and resolves on its confirm. */
function publish(record: VkRecord, receivedAt: string): Promise<void> {
  const object = record.s3?.object;
  const task = {
    v: 1,
    id: randomUUID(),
    origin: 'mcs',
    kind: 'created',
    eventName: record.eventName,
    bucket: record.s3?.bucket?.name,
    key: object?.key,
    size: object?.size ?? null,
    eTag: object?.eTag ?? null,
    receivedAt,
  };
  return tasks.publish(Buffer.from(JSON.stringify(task)), { messageId: task.id });
}

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.post('/webhook/:source', express.json({ limit: '8mb', type: () => true }), async (req, res) => {
  const records = (req.body as { Records?: VkRecord[] } | undefined)?.Records ?? [];
  const receivedAt = new Date().toISOString();
  try {
    await Promise.all(records.map((record) => publish(record, receivedAt)));
    res.status(200).json({ accepted: records.length });
  } catch {
    res.status(503).json({ error: 'not confirmed' });
  }
});
const server = app.listen(options.port, '127.0.0.1', () => process.stdout.write('listening\n'));
server.keepAliveTimeout = 65_000;
process.once('SIGTERM', () => {
  server.close(() => {
    void tasks.connection.close().finally(() => process.exit(0));
  });
});
