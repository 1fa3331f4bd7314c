import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { peekQueue } from '../helpers/rabbit.js';
import { rabbitmqctl, type RabbitmqctlTarget } from '../helpers/rabbitmqctl.js';
import { listAllKeys } from '../helpers/s3.js';
import type { ParkedTask } from './ledger.js';

/** Every object of `bucket`: key → SHA-256 of its bytes. */
export async function bucketState(client: S3Client, bucket: string): Promise<Map<string, string>> {
  const state = new Map<string, string>();
  const keys = await listAllKeys(client, bucket);
  const queue = [...keys];
  const worker = async () => {
    for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
      const digest = await objectDigest(client, bucket, key);
      // Deleted between the listing and the GET: absent.
      if (digest !== undefined) state.set(key, digest);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return state;
}

async function objectDigest(
  client: S3Client,
  bucket: string,
  key: string,
): Promise<string | undefined> {
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const hash = createHash('sha256');
    for await (const chunk of response.Body as Readable) hash.update(chunk as Buffer);
    return hash.digest('hex');
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
    throw err;
  }
}

/** The DLQ's tasks by key and error code, read without taking them out. */
export async function parkedTasks(url: string, dlq: string): Promise<ParkedTask[]> {
  const messages = await peekQueue(url, dlq);
  return messages.map((message) => {
    const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
    let key = '(unreadable task)';
    try {
      key = (JSON.parse(message.content.toString('utf8')) as { key: string }).key;
    } catch {
      // Counted under the placeholder: an unreadable task in the DLQ is a finding too.
    }
    const own = text(headers['x-s3relay-error-code']);
    const broker = text(headers['x-first-death-reason']);
    return { key, code: own ?? `broker:${broker ?? 'unknown'}` };
  });
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}

/** Messages (ready and unacknowledged) in each queue of `prefix`, as the broker counts them. */
export async function queueCounts(
  target: RabbitmqctlTarget,
  prefix: string,
): Promise<Map<string, number>> {
  const listed = await rabbitmqctl(
    ['list_queues', 'name', 'messages', '--quiet', '--no-table-headers'],
    target,
    15_000,
  );
  const counts = new Map<string, number>();
  for (const line of listed.split('\n')) {
    const [name, messages] = line.trim().split('\t');
    if (name === undefined || !name.startsWith(`${prefix}.`)) continue;
    counts.set(name, Number(messages));
  }
  return counts;
}
