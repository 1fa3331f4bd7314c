/**
 * Wipe 3 of issue 11, "one backup bucket for several source buckets": with a fixed DEST_BUCKET,
 * objects of two source buckets with the same key met on one backup key, so an event of `other/k`
 * overwrote or deleted the backup of `data/k`. Run as an operator would, with real `s3relay`
 * processes: such a configuration is refused at startup by every command, `DEST_PREFIX={bucket}/`
 * keeps the buckets apart, and SOURCE_BUCKETS is enforced by the worker, `resync` and `verify`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { createTask, type Task } from '@s3relay/core';
import { topologyNames } from '@s3relay/core/amqp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProcessGroup } from '../faults/service-process.js';
import { eventually } from '../helpers/eventually.js';
import {
  deleteQueuesWithPrefix,
  peekQueue,
  publishToQueue,
  queueDepth,
  rabbitUrl,
  uniquePrefix,
} from '../helpers/rabbit.js';
import { getObjectBytes, putObject, s3Env, startS3Server, type TestS3 } from '../helpers/s3.js';

const BACKUP = 'backup';

let source: TestS3;
let backup: TestS3;
let logDir: string;
let group: ProcessGroup;
let prefix: string;
let env: Record<string, string>;

beforeEach(async () => {
  [source, backup] = await Promise.all([
    startS3Server({ buckets: ['data', 'other'] }),
    startS3Server({ buckets: [BACKUP] }),
  ]);
  logDir = await mkdtemp(join(tmpdir(), 's3relay-shared-backup-'));
  prefix = uniquePrefix('shared-backup');
  env = {
    AMQP_URL: rabbitUrl(),
    AMQP_PREFIX: prefix,
    RETRY_DELAYS: '200ms,500ms',
    MAX_ATTEMPTS: '2',
    METRICS_PORT: '0',
    LOG_LEVEL: 'info',
    ...s3Env('SOURCE', source.endpoint),
    ...s3Env('DEST', backup.endpoint),
    DEST_BUCKET: BACKUP,
  };
  group = new ProcessGroup(logDir, env);
  // The same key in both source buckets, with different bytes.
  await putObject(source.client, 'data', 'k', 'the data bucket’s k');
  await putObject(source.client, 'other', 'k', 'the other bucket’s k');
});

afterEach(async () => {
  await group.stopAll(10_000);
  await deleteQueuesWithPrefix(rabbitUrl(), prefix).catch(() => undefined);
  await Promise.all([source.close(), backup.close()]);
  await rm(logDir, { recursive: true, force: true });
});

function task(bucket: string, kind: 'created' | 'removed'): Task {
  return createTask({
    origin: 's3',
    eventName: kind === 'created' ? 'ObjectCreated:Put' : 'ObjectRemoved:Delete',
    bucket,
    key: 'k',
    size: null,
    eTag: null,
    versionId: null,
    sequencer: `${bucket}-${kind}-${Date.now()}`,
    eventTime: null,
  });
}

async function publish(tasks: readonly Task[]): Promise<void> {
  await publishToQueue(
    rabbitUrl(),
    topologyNames({ prefix, retryDelaysMs: [200, 500] }).tasks,
    tasks.map((t) => ({ content: JSON.stringify(t), options: { messageId: t.id } })),
  );
}

async function startWorker(extra: Record<string, string>) {
  const worker = group.start('worker', ['worker'], extra);
  await worker.waitForLine(/"message":"worker started"/, 60_000);
  return worker;
}

const backupText = async (key: string) =>
  (await getObjectBytes(backup.client, BACKUP, key))?.toString('utf8');

describe('one backup bucket, several source buckets', () => {
  it('is refused at startup by the worker, resync and verify, naming DEST_BUCKET and SOURCE_BUCKETS', async () => {
    await putObject(backup.client, BACKUP, 'k', 'the backup of data/k');
    for (const args of [
      ['worker'],
      ['resync', '--bucket', 'data'],
      ['verify', '--bucket', 'data'],
    ]) {
      const { exit, output } = await group.run(args[0] ?? '', args, {}, 60_000);
      expect(exit.code, output).toBe(2);
      expect(output).toContain(
        'DEST_BUCKET "backup" is one backup bucket for every source bucket and SOURCE_BUCKETS is empty (any bucket)',
      );
      expect(output).toContain(
        'Set SOURCE_BUCKETS to the one source bucket, or put {bucket} in DEST_BUCKET',
      );
    }
    expect(await backupText('k')).toBe('the backup of data/k');
  });

  it('with DEST_PREFIX={bucket}/ keeps the same key of two buckets apart, and a delete of one spares the other', async () => {
    await startWorker({ DEST_PREFIX: '{bucket}/' });
    await publish([task('data', 'created'), task('other', 'created')]);
    await eventually(
      async () => {
        expect(await backupText('data/k')).toBe('the data bucket’s k');
        expect(await backupText('other/k')).toBe('the other bucket’s k');
      },
      { timeoutMs: 30_000 },
    );
    await source.client.send(new DeleteObjectCommand({ Bucket: 'other', Key: 'k' }));
    await publish([task('other', 'removed')]);
    await eventually(async () => expect(await backupText('other/k')).toBeUndefined(), {
      timeoutMs: 30_000,
    });
    expect(await backupText('data/k')).toBe('the data bucket’s k');
    for (const bucket of ['data', 'other']) {
      const { exit, output } = await group.run(
        'verify',
        ['verify', '--bucket', bucket],
        { DEST_PREFIX: '{bucket}/' },
        60_000,
      );
      expect(exit.code, output).toBe(0);
      expect(output).toContain('backup equals source');
    }
  });

  it('with SOURCE_BUCKETS=data, tasks of another bucket are parked unrun, and resync and verify refuse it', async () => {
    const only = { SOURCE_BUCKETS: 'data' };
    await startWorker(only);
    await publish([task('data', 'created')]);
    await eventually(async () => expect(await backupText('k')).toBe('the data bucket’s k'), {
      timeoutMs: 30_000,
    });
    // Events of `other` (forged, or another deployment's on the same broker): `other/k` is gone
    // from its source, so running the delete would wipe the backup of `data/k`.
    await source.client.send(new DeleteObjectCommand({ Bucket: 'other', Key: 'k' }));
    await publish([task('other', 'removed'), task('other', 'created')]);
    const dlq = topologyNames({ prefix, retryDelaysMs: [200, 500] }).dlq;
    await eventually(async () => expect(await queueDepth(rabbitUrl(), dlq)).toBe(2), {
      timeoutMs: 30_000,
    });
    expect(await backupText('k')).toBe('the data bucket’s k');
    const parked = await peekQueue(rabbitUrl(), dlq);
    expect(parked.map((m) => String(m.properties.headers?.['x-s3relay-error-code']))).toEqual([
      'RELAY_TASK_BUCKET_NOT_ALLOWED',
      'RELAY_TASK_BUCKET_NOT_ALLOWED',
    ]);
    const list = await group.run('dlq', ['dlq', 'list'], only, 60_000);
    expect(list.exit.code, list.output).toBe(0);
    expect(list.output).toContain(
      'bucket "other" is not in SOURCE_BUCKETS (data); the task was not run',
    );

    for (const command of ['resync', 'verify']) {
      const { exit, output } = await group.run(
        command,
        [command, '--bucket', 'other'],
        only,
        60_000,
      );
      expect(exit.code, output).toBe(2);
      expect(output).toContain('bucket "other" is not in SOURCE_BUCKETS (data)');
    }
    expect(await backupText('k')).toBe('the data bucket’s k');
  });
});
