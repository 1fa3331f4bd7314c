/**
 * `s3relay dlq list|replay|drop|purge` in-process against real RabbitMQ: the reason of a task a real
 * worker parked, replay once the cause is fixed, order and count kept by listing, filters, dry
 * runs, the purge guard, a broker-parked (delivery limit) task, and a replay whose tasks are
 * parked again while it runs.
 */
import { type Task } from '@s3relay/core';
import { deleteTopology, topologyNames, type TopologyNames } from '@s3relay/core/amqp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import {
  connectAmqp,
  drainQueue,
  publishToQueue,
  queueDepth,
  rabbitUrl,
  uniquePrefix,
  withChannel,
} from '../helpers/rabbit.js';
import { startS3Proxy, type S3Proxy } from '../helpers/s3-proxy.js';
import { getObjectBytes, putObject } from '../helpers/s3.js';
import {
  BACKUP_BUCKET,
  SOURCE_BUCKET,
  eventTask,
  startWorkerBed,
  type WorkerBed,
} from '../support/worker-bed.js';
import { cli, json } from '../support/cli-run.js';
import { declareQueues } from '../support/declare-queues.js';

interface ListJson {
  total: number;
  scanned: number;
  entries: {
    messageId: string;
    task: Task | null;
    errorCode: string;
    error: string;
    attempts: number | null;
  }[];
}

interface ReplayJson {
  scanned: number;
  dryRun: boolean;
  replayed: { messageId: string }[];
}

/** A prefix of its own for one test, without S3 servers: enough for most DLQ commands. */
interface Queues {
  readonly url: string;
  readonly prefix: string;
  readonly names: TopologyNames;
  readonly env: Record<string, string>;
}

function freshQueues(label: string, extra: Record<string, string> = {}): Queues {
  const prefix = uniquePrefix(label);
  return {
    url: rabbitUrl(),
    prefix,
    names: topologyNames({ prefix, retryDelaysMs: [200, 500] }),
    env: { AMQP_URL: rabbitUrl(), AMQP_PREFIX: prefix, RETRY_DELAYS: '200ms,500ms', ...extra },
  };
}

async function deleteQueues(queues: Queues): Promise<void> {
  await withChannel(queues.url, (channel) => deleteTopology(channel, queues.names));
}

/** Parks hand-made tasks straight into the DLQ, with the headers a worker would have set. */
async function parkTasks(
  queues: Queues,
  count: number,
  describe: (index: number) => { bucket: string; code: string; failedAt?: string },
): Promise<Task[]> {
  const tasks = Array.from({ length: count }, (_, index) =>
    eventTask(`parked/${String(index).padStart(4, '0')}.txt`, 'created', {
      bucket: describe(index).bucket,
    }),
  );
  await publishToQueue(
    queues.url,
    queues.names.dlq,
    tasks.map((task, index) => ({
      content: JSON.stringify(task),
      options: {
        messageId: task.id,
        contentType: 'application/json',
        headers: {
          'x-s3relay-error-code': describe(index).code,
          'x-s3relay-error': `fake failure ${index}`,
          'x-s3relay-attempts': 3,
          'x-s3relay-first-failed-at': '2024-01-01T00:00:00.000Z',
          'x-s3relay-last-failed-at': describe(index).failedAt ?? '2024-01-01T00:05:00.000Z',
        },
      },
    })),
  );
  return tasks;
}

async function listIds(env: Record<string, string>, args: readonly string[] = []) {
  const run = await cli(['--json', 'dlq', 'list', '--limit', '100000', ...args], env);
  expect(run.code, run.stderr).toBe(0);
  return json<ListJson>(run).entries.map((entry) => entry.messageId);
}

function idsOf(messages: readonly { properties: { messageId?: unknown } }[]): string[] {
  return messages.map((message) => String(message.properties.messageId));
}

describe('dlq: tasks a real worker parked', () => {
  let bed: WorkerBed;
  let proxy: S3Proxy;
  let env: Record<string, string>;

  beforeEach(async () => {
    bed = await startWorkerBed({ label: 'cli-dlq' });
    env = bed.env();
    // The backup answers every PutObject with 403 AccessDenied until the test clears it.
    proxy = await startS3Proxy({ endpoint: bed.backup.endpoint });
    proxy.addFault({
      op: 'PutObject',
      action: { type: 'status', status: 403, code: 'AccessDenied' },
    });
    await bed.startWorker({ DEST_S3_ENDPOINT: proxy.endpoint });
  });

  afterEach(async () => {
    await bed.close();
    await proxy.close();
  });

  it('list shows the reason; replay after the cause is fixed makes the task succeed', async () => {
    await putObject(bed.source.client, SOURCE_BUCKET, 'denied file.txt', 'payload');
    const task = eventTask('denied file.txt', 'created');
    await bed.publish([task]);
    await eventually(async () => expect(await queueDepth(bed.url, bed.names.dlq)).toBe(1), {
      timeoutMs: 15_000,
      message: 'the task was not parked',
    });

    const human = await cli(['dlq', 'list'], env);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`1 parked in ${bed.prefix}.dlq; showing 1`);
    expect(human.stdout).toContain(task.id);
    expect(human.stdout).toContain('denied file.txt');
    expect(human.stdout).toContain('RELAY_S3_ACCESS_DENIED');

    const listed = json<ListJson>(await cli(['--json', 'dlq', 'list'], env));
    expect(listed.total).toBe(1);
    expect(listed.entries).toHaveLength(1);
    const [entry] = listed.entries;
    expect(entry?.messageId).toBe(task.id);
    expect(entry?.task).toEqual(task);
    expect(entry?.errorCode).toBe('RELAY_S3_ACCESS_DENIED');
    expect(entry?.error).toContain('AccessDenied');
    expect(entry?.attempts).toBe(1);

    proxy.clearFaults();
    const replay = await cli(['--json', 'dlq', 'replay', '--all'], env);
    expect(replay.code, replay.stderr).toBe(0);
    expect(json<ReplayJson>(replay).replayed.map((r) => r.messageId)).toEqual([task.id]);
    await eventually(
      async () => {
        const copy = await getObjectBytes(
          bed.backup.client,
          BACKUP_BUCKET,
          bed.backupKey('denied file.txt'),
        );
        expect(copy?.toString('utf8')).toBe('payload');
      },
      { timeoutMs: 15_000, message: 'the replayed task did not copy the object' },
    );
    expect(await queueDepth(bed.url, bed.names.dlq)).toBe(0);
  });
});

describe('dlq: listing, filters, dry run, drop, purge', () => {
  let queues: Queues;
  const bucketOf = (index: number) => (index % 3 === 0 ? 'bucket-b' : 'bucket-a');
  const codeOf = (index: number) =>
    index % 2 === 0 ? 'RELAY_S3_ACCESS_DENIED' : 'RELAY_S3_NO_SUCH_BUCKET';
  const park = async (count: number) => {
    await declareQueues(queues.env);
    const tasks = await parkTasks(queues, count, (index) => ({
      bucket: bucketOf(index),
      code: codeOf(index),
    }));
    return tasks.map((task) => task.id);
  };
  const where = (ids: readonly string[], test: (index: number) => boolean) =>
    ids.filter((_, index) => test(index));

  beforeEach(() => {
    queues = freshQueues('cli-dlq');
  });

  afterEach(async () => {
    await deleteQueues(queues);
  });

  it('list neither loses nor reorders: twice, filtered, limited, then drained', async () => {
    const parked = await park(60);
    const { env } = queues;

    expect(await listIds(env)).toEqual(parked);
    expect(await listIds(env)).toEqual(parked);
    expect(await listIds(env, ['--error-code', 'RELAY_S3_NO_SUCH_BUCKET'])).toEqual(
      where(parked, (i) => codeOf(i) === 'RELAY_S3_NO_SUCH_BUCKET'),
    );
    const limited = json<ListJson>(await cli(['--json', 'dlq', 'list', '--limit', '7'], env));
    expect(limited.entries.map((e) => e.messageId)).toEqual(parked.slice(0, 7));
    expect(limited.total).toBe(60);
    expect(await listIds(env)).toEqual(parked);

    expect(idsOf(await drainQueue(queues.url, queues.names.dlq))).toEqual(parked);
  });

  it('list and replay filter by --bucket and --error-code', async () => {
    const parked = await park(12);
    const { env } = queues;

    expect(await listIds(env, ['--bucket', 'bucket-b'])).toEqual(
      where(parked, (i) => bucketOf(i) === 'bucket-b'),
    );
    expect(await listIds(env, ['--error-code', 'RELAY_S3_ACCESS_DENIED'])).toEqual(
      where(parked, (i) => codeOf(i) === 'RELAY_S3_ACCESS_DENIED'),
    );
    expect(
      await listIds(env, ['--bucket', 'bucket-a', '--error-code', 'RELAY_S3_NO_SUCH_BUCKET']),
    ).toEqual(
      where(parked, (i) => bucketOf(i) === 'bucket-a' && codeOf(i) === 'RELAY_S3_NO_SUCH_BUCKET'),
    );
    expect(await listIds(env, ['--bucket', 'no-such-bucket'])).toEqual([]);

    const replay = await cli(['--json', 'dlq', 'replay', '--all', '--bucket', 'bucket-b'], env);
    expect(replay.code, replay.stderr).toBe(0);
    const moved = where(parked, (i) => bucketOf(i) === 'bucket-b');
    expect(json<ReplayJson>(replay).replayed.map((r) => r.messageId)).toEqual(moved);
    const inTasks = await drainQueue(queues.url, queues.names.tasks);
    expect(idsOf(inTasks)).toEqual(moved);
    for (const message of inTasks) {
      // Back to a first attempt: no attempt count, no error; where it came from is kept.
      expect(message.properties.headers?.['x-s3relay-attempt']).toBeUndefined();
      expect(message.properties.headers?.['x-s3relay-error-code']).toBeUndefined();
      expect(typeof message.properties.headers?.['x-s3relay-replayed-at']).toBe('string');
      expect(message.properties.headers?.['x-s3relay-replayed-error-code']).toBeDefined();
    }
    expect(idsOf(await drainQueue(queues.url, queues.names.dlq))).toEqual(
      where(parked, (i) => bucketOf(i) !== 'bucket-b'),
    );
  });

  it('replay --id moves exactly the named tasks', async () => {
    const parked = await park(6);
    const chosen = [parked[4] ?? '', parked[1] ?? ''];
    const replay = await cli(['--json', 'dlq', 'replay', '--id', ...chosen], queues.env);
    expect(replay.code, replay.stderr).toBe(0);
    expect(idsOf(await drainQueue(queues.url, queues.names.tasks)).sort()).toEqual(
      [...chosen].sort(),
    );
    expect(await listIds(queues.env)).toEqual(parked.filter((id) => !chosen.includes(id)));
  });

  it('replay --dry-run changes nothing', async () => {
    const parked = await park(20);
    const dry = await cli(['--json', 'dlq', 'replay', '--all', '--dry-run'], queues.env);
    expect(dry.code, dry.stderr).toBe(0);
    const result = json<ReplayJson>(dry);
    expect(result.dryRun).toBe(true);
    expect(result.replayed.map((r) => r.messageId)).toEqual(parked);
    expect(await queueDepth(queues.url, queues.names.tasks)).toBe(0);
    const left = await drainQueue(queues.url, queues.names.dlq);
    expect(idsOf(left)).toEqual(parked);
    expect(left.map((m) => m.properties.headers?.['x-s3relay-error-code'] as unknown)).toEqual(
      parked.map((_, index) => codeOf(index)),
    );
  });

  it('replay --dry-run and drop --dry-run say "would", never that they did', async () => {
    await park(3);
    const replay = await cli(['dlq', 'replay', '--all', '--dry-run'], queues.env);
    expect(replay.code, replay.stderr).toBe(0);
    const replayOutput = replay.stdout + replay.stderr;
    expect(replayOutput).toContain('would replay 3');
    expect(replayOutput).not.toMatch(/\breplayed\b/);
    const drop = await cli(['dlq', 'drop', '--all', '--dry-run'], queues.env);
    expect(drop.code, drop.stderr).toBe(0);
    const dropOutput = drop.stdout + drop.stderr;
    expect(dropOutput).toContain('would drop 3');
    expect(dropOutput).not.toMatch(/\bdropped\b/);
    expect(await listIds(queues.env)).toHaveLength(3);
  });

  it('a replay whose tasks are parked again at once replays each once, and ends', async () => {
    const parked = await park(700);
    // A worker for which every task fails at once: each replayed task is back in the DLQ within
    // milliseconds, while the replay is still walking it.
    const connection = await connectAmqp(queues.url);
    try {
      const channel = await connection.createConfirmChannel();
      await channel.consume(queues.names.tasks, (message) => {
        if (message === null) return;
        channel.sendToQueue(queues.names.dlq, message.content, {
          ...message.properties,
          headers: { ...message.properties.headers, 'x-s3relay-error-code': 'BOUNCED' },
        });
        channel.ack(message);
      });
      const replay = await cli(['--json', 'dlq', 'replay', '--all'], queues.env);
      expect(replay.code, replay.stderr).toBe(0);
      const replayed = json<ReplayJson>(replay).replayed.map((r) => r.messageId);
      expect(replayed).toEqual(parked);
      await eventually(
        async () => expect(await queueDepth(queues.url, queues.names.dlq)).toBe(parked.length),
        { timeoutMs: 10_000, message: 'the replayed tasks did not come back to the DLQ' },
      );
    } finally {
      await connection.close();
    }
  });

  it('replay without --all or --id is a usage error', async () => {
    const run = await cli(['dlq', 'replay'], queues.env);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--all or --id');
  });

  it('list and replay filter by the time of the last failure', async () => {
    await declareQueues(queues.env);
    // Task i last failed at minute i of 2024-01-01.
    const minute = (index: number) => `2024-01-01T00:${String(index).padStart(2, '0')}:00.000Z`;
    const parked = (
      await parkTasks(queues, 10, (index) => ({
        bucket: 'bucket-a',
        code: 'RELAY_S3_ACCESS_DENIED',
        failedAt: minute(index),
      }))
    ).map((task) => task.id);
    const { env } = queues;

    expect(await listIds(env, ['--since', minute(3), '--until', minute(6)])).toEqual(
      parked.slice(3, 7),
    );
    expect(await listIds(env, ['--until', minute(1)])).toEqual(parked.slice(0, 2));
    // An age: everything parked here failed long before the last 10 minutes.
    expect(await listIds(env, ['--since', '10m'])).toEqual([]);
    const bad = await cli(['dlq', 'list', '--since', 'yesterday-ish'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('ISO 8601');

    const replay = await cli(['--json', 'dlq', 'replay', '--all', '--since', minute(8)], env);
    expect(replay.code, replay.stderr).toBe(0);
    expect(idsOf(await drainQueue(queues.url, queues.names.tasks))).toEqual(parked.slice(8));
    expect(await listIds(env)).toEqual(parked.slice(0, 8));
  });

  it('list --json shows every header of a parked task', async () => {
    const [id] = await park(1);
    const run = await cli(['--json', 'dlq', 'list'], queues.env);
    expect(run.code, run.stderr).toBe(0);
    const [entry] = json<{ entries: { messageId: string; headers: Record<string, unknown> }[] }>(
      run,
    ).entries;
    expect(entry?.messageId).toBe(id);
    expect(entry?.headers).toMatchObject({
      'x-s3relay-error-code': 'RELAY_S3_ACCESS_DENIED',
      'x-s3relay-error': 'fake failure 0',
      'x-s3relay-attempts': 3,
      'x-s3relay-first-failed-at': '2024-01-01T00:00:00.000Z',
    });
  });

  it('drop deletes exactly the selected tasks, keeps the rest in order, and asks first', async () => {
    const parked = await park(12);
    const { env } = queues;

    const refused = await cli(['dlq', 'drop', '--all', '--bucket', 'bucket-b'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');
    expect(await listIds(env)).toEqual(parked);
    const usage = await cli(['dlq', 'drop', '--yes'], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--all or --id');

    const dry = await cli(
      ['--json', 'dlq', 'drop', '--all', '--bucket', 'bucket-b', '--dry-run'],
      env,
    );
    expect(dry.code, dry.stderr).toBe(0);
    const wouldDrop = where(parked, (i) => bucketOf(i) === 'bucket-b');
    expect(json<{ dropped: { messageId: string }[] }>(dry).dropped.map((d) => d.messageId)).toEqual(
      wouldDrop,
    );
    expect(await listIds(env)).toEqual(parked);

    const chosen = [parked[2] ?? '', parked[7] ?? ''];
    const byId = await cli(['--json', 'dlq', 'drop', '--id', ...chosen, '--yes'], env);
    expect(byId.code, byId.stderr).toBe(0);
    expect(await listIds(env)).toEqual(parked.filter((id) => !chosen.includes(id)));

    const byBucket = await cli(
      ['--json', 'dlq', 'drop', '--all', '--bucket', 'bucket-b', '--yes'],
      env,
    );
    expect(byBucket.code, byBucket.stderr).toBe(0);
    expect(idsOf(await drainQueue(queues.url, queues.names.dlq))).toEqual(
      where(parked, (i) => bucketOf(i) !== 'bucket-b' && i !== 2 && i !== 7),
    );
    expect(await queueDepth(queues.url, queues.names.tasks)).toBe(0);
  });

  it('purge refuses without --yes and without a terminal, and empties with --yes', async () => {
    await park(5);
    const refused = await cli(['dlq', 'purge'], queues.env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');
    expect(await queueDepth(queues.url, queues.names.dlq)).toBe(5);

    const purged = await cli(['--json', 'dlq', 'purge', '--yes'], queues.env);
    expect(purged.code, purged.stderr).toBe(0);
    expect(json<{ purged: number }>(purged)).toEqual({ purged: 5 });
    expect(await queueDepth(queues.url, queues.names.dlq)).toBe(0);
  });
});

describe('dlq: a task the broker parked', () => {
  let queues: Queues;

  beforeEach(() => {
    queues = freshQueues('cli-dlq-limit', { AMQP_DELIVERY_LIMIT: '1' });
  });

  afterEach(async () => {
    await deleteQueues(queues);
  });

  it('is listed as RELAY_TASK_DELIVERY_LIMIT when it hit the delivery limit', async () => {
    await declareQueues(queues.env);
    const task = eventTask('crashes-its-worker.txt', 'created');
    await publishToQueue(queues.url, queues.names.tasks, [
      { content: JSON.stringify(task), options: { messageId: task.id } },
    ]);
    // A worker that dies holding the task: delivered, never acked, returned — until parked.
    await withChannel(queues.url, async (channel) => {
      await eventually(
        async () => {
          const message = await channel.get(queues.names.tasks, { noAck: false });
          if (message !== false) channel.nack(message, false, true);
          expect((await channel.checkQueue(queues.names.dlq)).messageCount).toBe(1);
        },
        { timeoutMs: 10_000, message: 'the task did not reach the delivery limit' },
      );
    });

    const run = await cli(['--json', 'dlq', 'list'], queues.env);
    expect(run.code, run.stderr).toBe(0);
    const [entry] = json<ListJson>(run).entries;
    expect(entry?.messageId).toBe(task.id);
    expect(entry?.errorCode).toBe('RELAY_TASK_DELIVERY_LIMIT');
    expect(entry?.error).toContain('delivered too many times');
    // Not the DLQ's own delivery count, which grew with every look at the DLQ.
    expect(entry?.attempts).toBeUndefined();
    const again = json<ListJson>(await cli(['--json', 'dlq', 'list'], queues.env));
    expect(again.entries.map((e) => [e.messageId, e.errorCode, e.attempts])).toEqual([
      [task.id, 'RELAY_TASK_DELIVERY_LIMIT', undefined],
    ]);
  });
});
