/**
 * `s3relay resync` and `s3relay verify` in-process against real RabbitMQ, two s3rver servers and
 * a real worker, with DEST_PREFIX and keys with spaces, `+`, `%` and non-ASCII letters (astral
 * and U+E000–U+FFFF ones included), plus what s3rver's listing order means for them.
 */
import { DeleteObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import type { Worker } from '@s3relay/worker';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { queueDepth } from '../helpers/rabbit.js';
import { getObjectBytes, listAllKeys, putObject } from '../helpers/s3.js';
import {
  BACKUP_BUCKET,
  SOURCE_BUCKET,
  assertBackupMatches,
  eventTask,
  startWorkerBed,
  type WorkerBed,
} from '../support/worker-bed.js';
import { cli, json, type CliRun } from '../support/cli-run.js';
import { declareQueues } from '../support/declare-queues.js';

interface Difference {
  key: string;
  status: 'missing' | 'extra' | 'different';
  reason?: string;
}

interface Counts {
  compared: number;
  equal: number;
  missing: number;
  extra: number;
  different: number;
}

type VerifyJson = Counts & { inSync: boolean; deep: boolean; differences: Difference[] };
type ResyncJson = Counts & { enqueued: number; dryRun: boolean; differences: Difference[] };

/**
 * Keys an operator's bucket really has: spaces, `+`, `%` (alone and as in an escape), Cyrillic,
 * a letter from U+E000–U+FFFF and astral ones (UTF-16 and UTF-8 order those two differently),
 * and a "directory". None is a prefix of another, which s3rver would list out of order (see the
 * last describe block).
 */
const SPECIAL_KEYS = [
  'with space.txt',
  'plus+sign.txt',
  'percent%25.txt',
  'lone % sign.txt',
  'ключ.txt',
  'letter \uE000.txt',
  'letter \uFFFD.txt',
  'letter 😀.txt',
  'letter 𝄞.txt',
  'dir/nested file+1.txt',
];

let bed: WorkerBed;
let env: Record<string, string>;

beforeEach(async () => {
  bed = await startWorkerBed({ label: 'cli-sync' });
  env = bed.env();
});

afterEach(async () => {
  await bed.close();
});

/** Waits until every key's backup equals its source (both absent counts). */
async function untilReplicated(keys: readonly string[], timeoutMs = 30_000): Promise<void> {
  await eventually(() => assertBackupMatches(bed, keys), {
    timeoutMs,
    intervalMs: 250,
    message: 'the backup did not catch up',
  });
}

async function verify(args: readonly string[] = []): Promise<{ run: CliRun; result: VerifyJson }> {
  const run = await cli(['--json', 'verify', '--bucket', SOURCE_BUCKET, ...args], env);
  return { run, result: json<VerifyJson>(run) };
}

describe('resync and verify', () => {
  it('resync heals a backup that missed 100 webhooks and, with --delete, deletes extras; verify agrees', async () => {
    const plain = Array.from({ length: 110 }, (_, i) => `obj-${String(i).padStart(3, '0')}.txt`);
    const keys = [...SPECIAL_KEYS, ...plain];
    await Promise.all(
      keys.map((key) => putObject(bed.source.client, SOURCE_BUCKET, key, `body of ${key}`)),
    );
    // Webhooks arrived for 20 keys only.
    const delivered = keys.filter((_, index) => index % 6 === 0);
    expect(delivered).toHaveLength(20);
    const worker = await bed.startWorker();
    await bed.publish(delivered.map((key) => eventTask(key, 'created')));
    await untilReplicated(delivered);
    await worker.close();
    const extras = ['mirror/extra one.txt', 'mirror/лишний+.txt', 'mirror/gone/😀.txt'];
    await Promise.all(extras.map((key) => putObject(bed.backup.client, BACKUP_BUCKET, key, 'x')));
    // Outside DEST_PREFIX: not part of this backup, never compared nor deleted.
    await putObject(bed.backup.client, BACKUP_BUCKET, 'elsewhere/keep me.txt', 'keep');

    const before = await verify();
    expect(before.run.code).toBe(1);
    expect(before.run.stderr).toContain('backup differs from source: 100 missing, 0 different');
    expect(before.result).toMatchObject({
      inSync: false,
      compared: 123,
      equal: 20,
      missing: 100,
      extra: 3,
      different: 0,
    });
    const keysWith = (status: Difference['status']) =>
      before.result.differences
        .filter((d) => d.status === status)
        .map((d) => d.key)
        .sort();
    expect(keysWith('extra')).toEqual(['extra one.txt', 'gone/😀.txt', 'лишний+.txt']);
    expect(keysWith('missing')).toEqual(keys.filter((key) => !delivered.includes(key)).sort());

    const dryRun = await cli(['--json', 'resync', '--bucket', SOURCE_BUCKET, '--dry-run'], env);
    expect(dryRun.code, dryRun.stderr).toBe(0);
    expect(json<ResyncJson>(dryRun)).toMatchObject({ dryRun: true, enqueued: 0, missing: 100 });
    // Without --delete, extras are only reported.
    const reportOnly = await cli(['resync', '--bucket', SOURCE_BUCKET, '--dry-run'], env);
    expect(reportOnly.stdout).toContain(
      'dry run: would copy 100 objects and delete 0 backup objects',
    );
    expect(reportOnly.stdout).toContain(
      '3 extra backup objects (in the backup, not in the source) left alone: --delete enqueues their deletes',
    );
    const withDelete = await cli(
      ['resync', '--bucket', SOURCE_BUCKET, '--dry-run', '--delete'],
      env,
    );
    expect(withDelete.stdout).toContain(
      'dry run: would copy 100 objects and delete 3 backup objects',
    );
    const keepDeletes = await cli(['resync', '--bucket', SOURCE_BUCKET, '--dry-run'], {
      ...env,
      REPLICATE_DELETES: 'false',
    });
    expect(keepDeletes.stdout).toContain(
      '3 extra backup objects (in the backup, not in the source) left alone: deletes are off',
    );
    for (const off of [{ REPLICATE_DELETES: 'false' }, { DELETE_LIMIT: '0' }] as Record<
      string,
      string
    >[]) {
      const deletesOff = await cli(['resync', '--bucket', SOURCE_BUCKET, '--delete'], {
        ...env,
        ...off,
      });
      expect(deletesOff.code).toBe(2);
      expect(deletesOff.stderr).toContain('--delete asks for deletes, but deletes are off');
    }
    expect(await queueDepth(bed.url, bed.names.tasks)).toBe(0);

    const resync = await cli(['--json', 'resync', '--bucket', SOURCE_BUCKET, '--delete'], env);
    expect(resync.code, resync.stderr).toBe(0);
    expect(json<ResyncJson>(resync)).toMatchObject({
      dryRun: false,
      enqueued: 103,
      missing: 100,
      copies: 100,
      deletes: 3,
    });
    expect(await queueDepth(bed.url, bed.names.tasks)).toBe(103);

    await bed.startWorker();
    await untilReplicated([...keys, ...extras.map((key) => key.slice('mirror/'.length))]);
    await eventually(async () => expect((await verify()).run.code).toBe(0), {
      timeoutMs: 10_000,
      intervalMs: 500,
    });
    const deep = await verify(['--deep']);
    expect(deep.run.code, deep.run.stderr).toBe(0);
    expect(deep.result).toMatchObject({ inSync: true, deep: true, equal: 120, compared: 120 });
    expect(await getObjectBytes(bed.backup.client, BACKUP_BUCKET, 'elsewhere/keep me.txt')).toEqual(
      Buffer.from('keep'),
    );
    expect(await listAllKeys(bed.backup.client, BACKUP_BUCKET, 'mirror/')).toHaveLength(120);
  });

  it('verify --deep exits 1 on a single differing byte, and 0 after resync', async () => {
    const keys = ['one byte off.bin', 'ключ 😀.bin', 'untouched.bin'];
    const body = Buffer.from('0123456789abcdef'.repeat(64));
    await Promise.all(keys.map((key) => putObject(bed.source.client, SOURCE_BUCKET, key, body)));
    await bed.startWorker();
    await bed.publish(keys.map((key) => eventTask(key, 'created')));
    await untilReplicated(keys);
    expect((await verify(['--deep'])).run.code).toBe(0);

    // Same size, one byte different, written over the copy by someone else.
    const [target = ''] = keys;
    const tampered = Buffer.from(body);
    tampered[700] = 0x21;
    await putObject(bed.backup.client, BACKUP_BUCKET, bed.backupKey(target), tampered);

    const deep = await verify(['--deep']);
    expect(deep.run.code).toBe(1);
    expect(deep.result.differences).toEqual([
      { key: target, status: 'different', reason: 'content' },
    ]);
    const shallow = await verify();
    expect(shallow.run.code).toBe(1);
    expect(shallow.result.differences).toEqual([
      { key: target, status: 'different', reason: 'provenance' },
    ]);

    const resync = await cli(['--json', 'resync', '--bucket', SOURCE_BUCKET], env);
    expect(resync.code, resync.stderr).toBe(0);
    expect(json<ResyncJson>(resync)).toMatchObject({ enqueued: 1, different: 1, equal: 2 });
    await untilReplicated(keys);
    await eventually(async () => expect((await verify(['--deep'])).run.code).toBe(0), {
      timeoutMs: 10_000,
      intervalMs: 500,
    });
  });

  it('only --deep sees a changed byte when the size and the provenance metadata were kept', async () => {
    const key = 'bit rot.bin';
    const body = Buffer.alloc(4096, 7);
    await putObject(bed.source.client, SOURCE_BUCKET, key, body);
    const worker: Worker = await bed.startWorker();
    await bed.publish([eventTask(key, 'created')]);
    await untilReplicated([key]);
    await worker.close();

    const copy = await bed.backup.client.send(
      new HeadObjectCommand({ Bucket: BACKUP_BUCKET, Key: bed.backupKey(key) }),
    );
    const rotten = Buffer.from(body);
    rotten[2048] = 8;
    await putObject(bed.backup.client, BACKUP_BUCKET, bed.backupKey(key), rotten, {
      Metadata: copy.Metadata,
    });

    expect((await verify()).run.code).toBe(0);
    const deep = await verify(['--deep']);
    expect(deep.run.code).toBe(1);
    expect(deep.result.differences).toEqual([{ key, status: 'different', reason: 'content' }]);
  });

  it('verify --deep prints the resync that heals bytes changed under matching metadata, and running it heals them', async () => {
    // One object the workers copy without comparing anyway, one they would otherwise compare
    // (above 256 KiB) and find "up to date" by its metadata.
    const objects = new Map([
      ['rot/small.bin', Buffer.alloc(4096, 7)],
      ['rot/large ключ.bin', Buffer.alloc(300 * 1024, 9)],
    ]);
    for (const [key, body] of objects) await putObject(bed.source.client, SOURCE_BUCKET, key, body);
    const first: Worker = await bed.startWorker();
    await bed.publish([...objects.keys()].map((key) => eventTask(key, 'created')));
    await untilReplicated([...objects.keys()]);
    await first.close();
    for (const [key, body] of objects) {
      const copy = await bed.backup.client.send(
        new HeadObjectCommand({ Bucket: BACKUP_BUCKET, Key: bed.backupKey(key) }),
      );
      const rotten = Buffer.from(body);
      rotten[1000] = 0;
      await putObject(bed.backup.client, BACKUP_BUCKET, bed.backupKey(key), rotten, {
        Metadata: copy.Metadata,
      });
    }
    expect((await verify()).run.code).toBe(0);

    const deep = await verify(['--deep', '--prefix', 'rot/']);
    expect(deep.run.code).toBe(1);
    expect(deep.result.different).toBe(2);
    const printed = /heal with `([^`]+)`/.exec(deep.run.stderr)?.[1];
    expect(printed, deep.run.stderr).toBe('s3relay resync --bucket source --prefix rot/ --deep');
    expect(deep.result).toMatchObject({ heal: printed });

    await bed.startWorker();
    const [program, ...argv] = (printed ?? '').split(' ');
    expect(program).toBe('s3relay');
    const heal = await cli(['--json', ...argv], env);
    expect(heal.code, heal.stderr).toBe(0);
    expect(json<ResyncJson>(heal)).toMatchObject({ different: 2, enqueued: 2 });
    await eventually(
      async () => {
        for (const [key, body] of objects) {
          expect(
            await getObjectBytes(bed.backup.client, BACKUP_BUCKET, bed.backupKey(key)),
          ).toEqual(body);
        }
      },
      { timeoutMs: 20_000, intervalMs: 250, message: 'the backup was not healed' },
    );
    const after = await verify(['--deep']);
    expect(after.run.code, after.run.stderr).toBe(0);
    expect(after.result.inSync).toBe(true);
  });
});

describe("s3rver's listing order (the merge join relies on UTF-8 byte order)", () => {
  const byUtf8 = (keys: readonly string[]) =>
    [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

  it('lists one page in UTF-8 byte order, astral letters after U+E000–U+FFFF ones', async () => {
    await Promise.all(
      SPECIAL_KEYS.map((key) => putObject(bed.source.client, SOURCE_BUCKET, key, key)),
    );
    const listed = await listAllKeys(bed.source.client, SOURCE_BUCKET);
    expect(listed).toEqual(byUtf8(SPECIAL_KEYS));
    // UTF-16 order (JavaScript's default) puts the astral letters first: the check means something.
    expect([...SPECIAL_KEYS].sort()).not.toEqual(byUtf8(SPECIAL_KEYS));
  });

  it('lists a key after its extensions; resync and verify refuse such a listing', async () => {
    const keys = ['report', 'report-2024'];
    await declareQueues(env);
    await Promise.all(keys.map((key) => putObject(bed.source.client, SOURCE_BUCKET, key, key)));
    // S3 lists "report" first; s3rver walks files named "<key>._S3rver_object", and '-' < '.'.
    expect(await listAllKeys(bed.source.client, SOURCE_BUCKET)).toEqual(['report-2024', 'report']);

    const verified = await cli(['verify', '--bucket', SOURCE_BUCKET], env);
    expect(verified.code).toBe(1);
    expect(verified.stderr).toContain('out of UTF-8 byte order');
    const resynced = await cli(['resync', '--bucket', SOURCE_BUCKET], env);
    expect(resynced.code).toBe(1);
    expect(resynced.stderr).toContain('out of UTF-8 byte order');

    await bed.source.client.send(new DeleteObjectCommand({ Bucket: SOURCE_BUCKET, Key: 'report' }));
    const after = await cli(['verify', '--bucket', SOURCE_BUCKET], env);
    expect(after.code).toBe(1);
    expect(after.stderr).toContain('backup differs from source: 1 missing');
    expect((await cli(['resync', '--bucket', SOURCE_BUCKET], env)).code).toBe(0);
  });
});
