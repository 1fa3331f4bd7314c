import { GetObjectTaggingCommand, PutObjectTaggingCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { putObject } from '../helpers/s3.js';
import { assertMirrored, startCephBed, type CephBed } from '../support/ceph-bed.js';
import { cli, json } from '../support/cli-run.js';

let bed: CephBed | undefined;

afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

interface VerifyResult {
  readonly inSync: boolean;
  readonly differences: { key: string; status: string; reason?: string }[];
}

describe('ceph: object tags', () => {
  it('copies tags with the object, reading them only for objects that have some', async () => {
    const current = await startCephBed({ label: 'tags', proxy: { source: true } });
    bed = current;
    await current.startWorker();
    await putObject(current.source, current.sourceBucket, 'plain.txt', 'no tags');
    await putObject(current.source, current.sourceBucket, 'tagged.txt', 'two tags', {
      Tagging: 'team=media%20%26%20sound&env=prod%3D1',
    });
    await eventually(() => assertMirrored(current, ['plain.txt', 'tagged.txt']), {
      timeoutMs: 30_000,
    });
    const tagging = await current.backup.send(
      new GetObjectTaggingCommand({ Bucket: current.backupBucket, Key: 'tagged.txt' }),
    );
    expect(tagging.TagSet).toEqual(
      expect.arrayContaining([
        { Key: 'team', Value: 'media & sound' },
        { Key: 'env', Value: 'prod=1' },
      ]),
    );
    expect(tagging.TagSet).toHaveLength(2);
    // The workers' requests to the source: tags were read for the tagged object only.
    const operations = current.sourceProxy?.operations ?? [];
    const reads = (key: string) =>
      operations.filter((op) => op.op === 'GetObjectTagging' && op.key === key).length;
    expect(operations.filter((op) => op.op === 'GetObject').length).toBeGreaterThanOrEqual(2);
    expect(reads('plain.txt')).toBe(0);
    expect(reads('tagged.txt')).toBeGreaterThanOrEqual(1);
  });

  it('verify finds a change of tags alone, and resync --tags brings it to the backup', async () => {
    const current = await startCephBed({ label: 'tags-verify' });
    bed = current;
    await current.startWorker();
    await putObject(current.source, current.sourceBucket, 'doc.txt', 'body', {
      Tagging: 'stage=draft',
    });
    await eventually(() => assertMirrored(current, ['doc.txt']), { timeoutMs: 30_000 });
    const verify = () => cli(['verify', '--bucket', current.sourceBucket, '--json'], current.env());
    const before = await verify();
    expect(json<VerifyResult>(before).inSync, before.stderr).toBe(true);

    // Ceph 16 sends no notification for a change of tags (AWS sends s3:ObjectTagging:Put).
    await current.source.send(
      new PutObjectTaggingCommand({
        Bucket: current.sourceBucket,
        Key: 'doc.txt',
        Tagging: { TagSet: [{ Key: 'stage', Value: 'final' }] },
      }),
    );
    const stale = await verify();
    expect(stale.code).toBe(1);
    expect(json<VerifyResult>(stale).differences).toEqual([
      { key: 'doc.txt', status: 'different', reason: 'tags' },
    ]);
    expect(stale.stderr).toContain('--tags');
    // Without --tags, resync compares listings only and sees nothing to do.
    const plain = await cli(
      ['resync', '--bucket', current.sourceBucket, '--dry-run', '--json'],
      current.env(),
    );
    expect(json<{ different: number }>(plain).different).toBe(0);

    const resync = await cli(
      ['resync', '--bucket', current.sourceBucket, '--tags', '--json'],
      current.env(),
    );
    expect(resync.code, resync.stderr).toBe(0);
    await eventually(() => assertMirrored(current, ['doc.txt']), { timeoutMs: 30_000 });
    const after = await verify();
    expect(after.code, after.stdout).toBe(0);
  });
});
