import { createWorker } from '@s3relay/worker';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { captureLog } from '../helpers/log-capture.js';
import { closeConnections, withChannel } from '../helpers/rabbit.js';
import { rabbitmqctl, targetForUrl } from '../helpers/rabbitmqctl.js';
import { putObject } from '../helpers/s3.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import {
  SOURCE_BUCKET,
  assertBackupMatches,
  eventTask,
  startWorkerBed,
  type WorkerBed,
} from '../support/worker-bed.js';

let bed: WorkerBed;
let proxy: TcpProxy;

beforeEach(async () => {
  bed = await startWorkerBed({ label: 'worker-broker' });
  proxy = await startTcpProxy({ port: Number(new URL(bed.url).port || 5672) });
});

afterEach(async () => {
  await bed.close();
  await proxy.close();
});

async function readyStatus(port: number | undefined): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}/readyz`)).status;
}

describe('worker: broker connection', () => {
  it('waits for a broker that is down at startup, not ready meanwhile, then consumes', async () => {
    proxy.setMode('reset');
    const log = captureLog('worker');
    const worker = createWorker({
      config: bed.config({ AMQP_URL: proxy.url(bed.url) }),
      logger: log.logger,
    });
    try {
      let started = false;
      const starting = worker.start().then(() => {
        started = true;
      });
      await eventually(() => expect(worker.metricsPort).toBeDefined(), { timeoutMs: 5000 });
      // A connect attempt has been refused, and start() still waits.
      await eventually(() => expect(log.withMessage('broker connect failed')).not.toEqual([]));
      expect(started).toBe(false);
      expect(await readyStatus(worker.metricsPort)).toBe(503);
      expect((await fetch(`http://127.0.0.1:${worker.metricsPort}/healthz`)).status).toBe(200);

      proxy.setMode('pass');
      await starting;
      expect(await readyStatus(worker.metricsPort)).toBe(200);
      await putObject(bed.source.client, SOURCE_BUCKET, 'late.txt', 'late');
      await bed.publish([eventTask('late.txt', 'created')]);
      await eventually(() => assertBackupMatches(bed, ['late.txt']), { timeoutMs: 10_000 });
    } finally {
      await worker.close();
    }
  });

  it('reconnects and consumes again after the broker drops its connection', async () => {
    const worker = await bed.startWorker({ AMQP_URL: proxy.url(bed.url) });
    await putObject(bed.source.client, SOURCE_BUCKET, 'one.txt', 'one');
    await bed.publish([eventTask('one.txt', 'created')]);
    await eventually(() => assertBackupMatches(bed, ['one.txt']), { timeoutMs: 10_000 });

    // An operator (or a node restart) closes the connection; then the network resets it.
    expect(await closeConnections({ nameContains: `s3relay-worker ${bed.prefix} ` })).toBe(1);
    await eventually(async () => expect(await readyStatus(worker.metricsPort)).toBe(200), {
      timeoutMs: 10_000,
    });
    await putObject(bed.source.client, SOURCE_BUCKET, 'two.txt', 'two');
    await bed.publish([eventTask('two.txt', 'created')]);
    await eventually(() => assertBackupMatches(bed, ['two.txt']), { timeoutMs: 10_000 });

    proxy.resetAll();
    await eventually(async () => expect(await readyStatus(worker.metricsPort)).toBe(200), {
      timeoutMs: 10_000,
    });
    await putObject(bed.source.client, SOURCE_BUCKET, 'three.txt', 'three');
    await bed.publish([eventTask('three.txt', 'created')]);
    await eventually(() => assertBackupMatches(bed, ['three.txt']), { timeoutMs: 10_000 });
    const disconnects = bed.logs().filter((line) => line.message === 'broker disconnected');
    expect(disconnects).toHaveLength(2);
  });

  it('after its tasks queue is deleted under it, is not ready and says why until it can declare it again, then consumes', async () => {
    const worker = await bed.startWorker();
    await putObject(bed.source.client, SOURCE_BUCKET, 'before.txt', 'before');
    await bed.publish([eventTask('before.txt', 'created')]);
    await eventually(() => assertBackupMatches(bed, ['before.txt']), { timeoutMs: 10_000 });

    // Someone made the DLQ a classic queue, so the worker cannot declare its topology again.
    await withChannel(bed.url, async (channel) => {
      await channel.deleteQueue(bed.names.dlq);
      await channel.assertQueue(bed.names.dlq, { durable: true });
    });
    await rabbitmqctl(['delete_queue', bed.names.tasks], targetForUrl(bed.url));
    await eventually(() =>
      expect(bed.logs()).toContainEqual(
        expect.objectContaining({
          message: 'subscribe failed',
          error: expect.objectContaining({ code: 'RELAY_AMQP_TOPOLOGY_MISMATCH' }) as unknown,
        }),
      ),
    );
    expect(await readyStatus(worker.metricsPort)).toBe(503);

    await withChannel(bed.url, (channel) => channel.deleteQueue(bed.names.dlq));
    await eventually(() =>
      expect(
        bed
          .logs()
          .filter((line) => line.message === 'consumer cancelled by the broker; subscribing again'),
      ).toHaveLength(1),
    );
    await eventually(async () => expect(await readyStatus(worker.metricsPort)).toBe(200), {
      timeoutMs: 10_000,
    });
    // The worker declared both queues again itself: nobody else did.
    await putObject(bed.source.client, SOURCE_BUCKET, 'after.txt', 'after');
    await bed.publish([eventTask('after.txt', 'created')]);
    await eventually(() => assertBackupMatches(bed, ['after.txt']), { timeoutMs: 10_000 });
  });
});
