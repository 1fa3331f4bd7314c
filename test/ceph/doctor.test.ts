import {
  GetBucketLifecycleConfigurationCommand,
  GetBucketVersioningCommand,
  PutBucketLifecycleConfigurationCommand,
} from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { startCephBed, type CephBed } from '../support/ceph-bed.js';
import { cli, json } from '../support/cli-run.js';

let bed: CephBed | undefined;

afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

interface DoctorResult {
  readonly healthy: boolean;
  readonly findings: { check: string; status: string; detail: string; fix: string }[];
}

const statuses = (result: DoctorResult) =>
  Object.fromEntries(result.findings.map((finding) => [finding.check, finding.status]));

const UNVERSIONED_WARNING = /the backup bucket is not versioned/;

describe('ceph: s3relay doctor', () => {
  it('finds an unversioned backup without a lifecycle, and --fix repairs both', async () => {
    const current = await startCephBed({ label: 'doctor' });
    bed = current;
    await current.startWorker();
    // The worker says so at startup, once.
    await eventually(() =>
      expect(
        current.logs().filter((line) => UNVERSIONED_WARNING.test(String(line.message))),
      ).toHaveLength(1),
    );
    // An operator's own rule, which --fix must keep.
    await current.backup.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: current.backupBucket,
        LifecycleConfiguration: {
          Rules: [
            { ID: 'tmp', Status: 'Enabled', Filter: { Prefix: 'tmp/' }, Expiration: { Days: 7 } },
          ],
        },
      }),
    );
    const doctor = (...flags: string[]) =>
      cli(['doctor', '--bucket', current.sourceBucket, '--json', ...flags], current.env());

    const sick = await doctor();
    expect(sick.code).toBe(1);
    expect(statuses(json<DoctorResult>(sick))).toEqual({
      'broker and queues': 'ok',
      'source readable': 'ok',
      'source sends notifications': 'ok',
      'backup reachable': 'ok',
      'backup keeps history (versioning)': 'problem',
      'old versions expire (lifecycle)': 'problem',
    });
    expect(sick.stderr).toContain('2 problem(s)');

    const fixed = await doctor('--fix', '--retention', '14d');
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(statuses(json<DoctorResult>(fixed))).toMatchObject({
      'backup keeps history (versioning)': 'fixed',
      'old versions expire (lifecycle)': 'fixed',
    });
    const versioning = await current.backup.send(
      new GetBucketVersioningCommand({ Bucket: current.backupBucket }),
    );
    expect(versioning.Status).toBe('Enabled');
    const lifecycle = await current.backup.send(
      new GetBucketLifecycleConfigurationCommand({ Bucket: current.backupBucket }),
    );
    const rules = new Map((lifecycle.Rules ?? []).map((rule) => [rule.ID ?? '', rule]));
    expect(rules.get('s3relay-history')?.NoncurrentVersionExpiration?.NoncurrentDays).toBe(14);
    expect(rules.get('tmp')?.Expiration?.Days).toBe(7);

    const healthy = await doctor('--retention', '14d');
    expect(healthy.code, healthy.stdout).toBe(0);
    expect(json<DoctorResult>(healthy).findings.every((f) => f.status === 'ok')).toBe(true);
    // A longer retention than the rule keeps is worth a warning, not a failure.
    const longer = await doctor('--retention', '60d');
    expect(longer.code).toBe(0);
    expect(statuses(json<DoctorResult>(longer))['old versions expire (lifecycle)']).toBe('warning');
  });

  it('says when the source sends no notifications and no worker consumes', async () => {
    const current = await startCephBed({
      label: 'doctor-quiet',
      notifications: false,
      versioned: true,
    });
    bed = current;
    const run = await cli(['doctor', '--bucket', current.sourceBucket, '--json'], current.env());
    expect(run.code).toBe(1);
    const result = json<DoctorResult>(run);
    expect(statuses(result)).toMatchObject({
      'broker and queues': 'warning',
      'source sends notifications': 'problem',
      'backup keeps history (versioning)': 'ok',
    });
    const notifications = result.findings.find((f) => f.check === 'source sends notifications');
    expect(notifications?.fix).toContain('Registering the webhook');
  });
});
