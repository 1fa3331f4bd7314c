/**
 * Wipe 2 of issue 11, "resync against an empty source": `s3relay resync --bucket B`, run as the
 * README's backfill instructions say against a source bucket that exists but is empty (wrong
 * account or endpoint, a recreated bucket), enqueued a delete for every backup object and the
 * workers deleted them all, with exit 0 and no warning. Run with real `s3relay` processes (a
 * worker consuming all along): by default resync only reports extras; `--delete` refuses an
 * empty source listing and more extras than `--max-delete`, saying which flag overrides.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topologyNames } from '@s3relay/core/amqp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProcessGroup } from '../faults/service-process.js';
import { eventually } from '../helpers/eventually.js';
import { deleteQueuesWithPrefix, queueDepth, rabbitUrl, uniquePrefix } from '../helpers/rabbit.js';
import { listAllKeys, putObject, s3Env, startS3Server, type TestS3 } from '../helpers/s3.js';

const BACKUP = 'backup';
const EXTRAS = Array.from({ length: 50 }, (_, i) => `photos/${String(i).padStart(2, '0')}.jpg`);

let source: TestS3;
let backup: TestS3;
let logDir: string;
let group: ProcessGroup;
let prefix: string;

beforeEach(async () => {
  [source, backup] = await Promise.all([
    startS3Server({ buckets: ['data'] }),
    startS3Server({ buckets: [BACKUP] }),
  ]);
  logDir = await mkdtemp(join(tmpdir(), 's3relay-resync-safety-'));
  prefix = uniquePrefix('resync-safety');
  group = new ProcessGroup(logDir, {
    AMQP_URL: rabbitUrl(),
    AMQP_PREFIX: prefix,
    METRICS_PORT: '0',
    LOG_LEVEL: 'info',
    ...s3Env('SOURCE', source.endpoint),
    ...s3Env('DEST', backup.endpoint),
    SOURCE_BUCKETS: 'data',
    DEST_BUCKET: BACKUP,
    DEST_PREFIX: 'mirror/',
  });
  // What replication left in the backup; the source bucket is empty (or reached wrongly).
  await Promise.all(EXTRAS.map((key) => putObject(backup.client, BACKUP, `mirror/${key}`, key)));
  const worker = group.start('worker', ['worker']);
  await worker.waitForLine(/"message":"worker started"/, 60_000);
});

afterEach(async () => {
  await group.stopAll(10_000);
  await deleteQueuesWithPrefix(rabbitUrl(), prefix).catch(() => undefined);
  await Promise.all([source.close(), backup.close()]);
  await rm(logDir, { recursive: true, force: true });
});

const tasksQueue = () => topologyNames({ prefix, retryDelaysMs: [1000] }).tasks;
const resync = (...args: string[]) =>
  group.run('resync', ['resync', '--bucket', 'data', ...args], {}, 60_000);

/** Every object the backup had is still there, with `more` beside them. */
async function expectEveryBackupObject(more: readonly string[] = []): Promise<void> {
  expect((await listAllKeys(backup.client, BACKUP, 'mirror/')).sort()).toEqual(
    [...EXTRAS.map((key) => `mirror/${key}`), ...more].sort(),
  );
}

describe('resync cannot wipe the backup', () => {
  it('against an empty source it only reports the extras, warns, and enqueues nothing', async () => {
    const { exit, output } = await resync();
    expect(exit.code, output).toBe(0);
    expect(output).toContain(
      '50 extra backup objects (in the backup, not in the source) left alone: --delete enqueues their deletes',
    );
    expect(output).toContain(
      'warning: the source listing of bucket "data" is empty while the backup "backup" holds 50 objects',
    );
    expect(await queueDepth(rabbitUrl(), tasksQueue())).toBe(0);
    await expectEveryBackupObject();
  });

  it('with --delete it refuses an empty source listing (exit 1), naming --allow-empty-source; --dry-run says so', async () => {
    const dryRun = await resync('--delete', '--dry-run');
    expect(dryRun.exit.code, dryRun.output).toBe(1);
    expect(dryRun.output).toContain(
      'dry run: would copy 0 objects and delete 0 backup objects (deleting the extras would be refused',
    );
    const { exit, output } = await resync('--delete');
    expect(exit.code, output).toBe(1);
    expect(output).toContain(
      'refusing to delete: the source listing of bucket "data" is empty while the backup "backup" holds 50 objects there',
    );
    expect(output).toContain(
      'Nothing was deleted. If the source really is empty, pass --allow-empty-source',
    );
    expect(await queueDepth(rabbitUrl(), tasksQueue())).toBe(0);
    await expectEveryBackupObject();
  });

  it('with --delete it refuses more extras than --max-delete; --max-delete all deletes them', async () => {
    await putObject(source.client, 'data', 'photos/kept.jpg', 'kept');
    const dryRun = await resync('--delete', '--max-delete', '10', '--dry-run');
    expect(dryRun.exit.code, dryRun.output).toBe(1);
    const { exit, output } = await resync('--delete', '--max-delete', '10');
    expect(exit.code, output).toBe(1);
    expect(output).toContain(
      'refusing to delete 50 extra backup objects of bucket "data": more than --max-delete 10. Nothing was deleted.',
    );
    expect(output).toContain('pass --max-delete 50 (or all) to delete them');
    expect(output).toContain('(the 1 copies were enqueued)');
    await eventually(
      async () => expect(await listAllKeys(backup.client, BACKUP, 'mirror/')).toHaveLength(51),
      { timeoutMs: 30_000 },
    );
    await expectEveryBackupObject(['mirror/photos/kept.jpg']);

    const forced = await resync('--delete', '--max-delete', 'all');
    expect(forced.exit.code, forced.output).toBe(0);
    expect(forced.output).toContain('enqueued deletes of 50 extra backup objects');
    await eventually(
      async () =>
        expect(await listAllKeys(backup.client, BACKUP, 'mirror/')).toEqual([
          'mirror/photos/kept.jpg',
        ]),
      { timeoutMs: 60_000 },
    );
  });
});
