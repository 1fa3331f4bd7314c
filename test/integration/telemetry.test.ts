/**
 * Telemetry snapshots of real services on a real broker: what a worker and an ingress publish to
 * `<prefix>.telemetry`, that the counters in them move with the work done, that a stopping
 * process says goodbye, and that TELEMETRY_INTERVAL_MS=0 publishes nothing.
 */
import { telemetryExchange, type TelemetrySnapshot } from '@s3relay/core/telemetry';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { listAllKeys, putObject } from '../helpers/s3.js';
import { rabbitUrl, withChannel } from '../helpers/rabbit.js';
import { startTestIngress, awsRecord } from '../support/ingress-bed.js';
import { tapTelemetry, type TelemetryTap } from '../support/telemetry-tap.js';
import {
  BACKUP_BUCKET,
  SOURCE_BUCKET,
  eventTask,
  startWorkerBed,
  type WorkerBed,
} from '../support/worker-bed.js';

/** The value of one series in a snapshot (undefined when the snapshot has no such series). */
function valueOf(
  snapshot: TelemetrySnapshot | undefined,
  metric: string,
  labels: Record<string, string | number> = {},
  sample?: string,
): number | undefined {
  const found = snapshot?.metrics.find((m) => m.name === metric);
  return found?.samples.find(
    (s) =>
      (sample === undefined || s.name === sample) &&
      Object.entries(labels).every(([name, value]) => s.labels[name] === value),
  )?.value;
}

describe('telemetry', () => {
  const cleanups: (() => Promise<void>)[] = [];
  let bed: WorkerBed | undefined;
  let tap: TelemetryTap | undefined;

  afterEach(async () => {
    await tap?.close();
    await bed?.close();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('a worker publishes its counters, which move with its work, and says goodbye when it stops', async () => {
    const workerBed = await startWorkerBed({ label: 'telemetry-worker' });
    bed = workerBed;
    const heard = await tapTelemetry(workerBed.url, workerBed.prefix);
    tap = heard;
    const worker = await workerBed.startWorker({ TELEMETRY_INTERVAL_MS: '200' });
    const current = () => heard.snapshots.filter((s) => s.role === 'worker').at(-1);

    await eventually(() => expect(current()).toBeDefined(), {
      message: 'no snapshot from the worker',
    });
    const first = current() as TelemetrySnapshot;
    expect(first).toMatchObject({
      v: 1,
      role: 'worker',
      pid: process.pid,
      intervalMs: 200,
      stopping: false,
      details: { concurrency: 4, action: 'replicate' },
    });
    expect(first.sentAt).toBeGreaterThanOrEqual(first.startedAt);
    expect(valueOf(first, 'process_resident_memory_bytes')).toBeGreaterThan(0);

    await putObject(
      workerBed.source.client,
      SOURCE_BUCKET,
      'telemetry/a.txt',
      Buffer.from('hello'),
    );
    await workerBed.publish([eventTask('telemetry/a.txt', 'created')]);
    await eventually(
      () => {
        const latest = current();
        expect(valueOf(latest, 's3relay_worker_tasks_total', { outcome: 'copied' })).toBe(1);
        expect(valueOf(latest, 's3relay_worker_bytes_copied_total')).toBe(5);
        expect(
          valueOf(
            latest,
            's3relay_worker_replication_lag_seconds',
            { le: '+Inf' },
            's3relay_worker_replication_lag_seconds_bucket',
          ),
        ).toBe(1);
      },
      { message: 'the copy did not show in the snapshots' },
    );
    expect(new Set(heard.snapshots.map((s) => s.id)).size).toBe(1);

    await worker.close();
    const last = current();
    expect(last?.stopping).toBe(true);
    expect(last?.id).toBe(first.id);
    // The backup is there: the worker's figures describe work that happened.
    expect(await listAllKeys(workerBed.backup.client, BACKUP_BUCKET)).toHaveLength(1);
  });

  it('an ingress publishes its webhook counters', async () => {
    const ingress = await startTestIngress({
      label: 'telemetry-ingress',
      env: { TELEMETRY_INTERVAL_MS: '200' },
      cleanups,
    });
    const heard = await tapTelemetry(rabbitUrl(), ingress.prefix);
    tap = heard;
    const response = await fetch(`${ingress.url}/webhook/s3`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ Records: [awsRecord('k1'), awsRecord('k2')] }),
    });
    expect(response.status).toBe(200);
    await eventually(
      () => {
        const latest = heard.snapshots.filter((s) => s.role === 'ingress').at(-1);
        expect(valueOf(latest, 's3relay_ingress_records_published_total', { source: 's3' })).toBe(
          2,
        );
        expect(
          valueOf(latest, 's3relay_ingress_requests_total', { source: 's3', outcome: 'accepted' }),
        ).toBe(1);
      },
      { message: 'the webhook did not show in the snapshots' },
    );
  });

  it('publishes nothing, and declares nothing, with TELEMETRY_INTERVAL_MS=0', async () => {
    const off = await startWorkerBed({ label: 'telemetry-off' });
    bed = off;
    await off.startWorker({ TELEMETRY_INTERVAL_MS: '0' });
    await putObject(off.source.client, SOURCE_BUCKET, 'off.txt', Buffer.from('x'));
    await off.publish([eventTask('off.txt', 'created')]);
    await eventually(async () => {
      expect(await listAllKeys(off.backup.client, BACKUP_BUCKET)).toHaveLength(1);
    });
    // A publisher declares the exchange before its first snapshot, at once when connected; the
    // worker has been connected through a whole task, so an exchange would exist by now.
    const exists = await withChannel(off.url, async (channel) => {
      try {
        await channel.checkExchange(telemetryExchange(off.prefix));
        return true;
      } catch {
        return false;
      }
    });
    expect(exists).toBe(false);
  });
});
