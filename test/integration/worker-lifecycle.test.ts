import { silentLogger } from '@s3relay/core';
import { createWorker, type Worker } from '@s3relay/worker';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { isListening } from '../helpers/ports.js';
import { connectionNames } from '../helpers/rabbit.js';
import { startS3Proxy, type S3Proxy } from '../helpers/s3-proxy.js';
import { s3Env } from '../helpers/s3.js';
import { startWorkerBed, type WorkerBed } from '../support/worker-bed.js';

/** A backup bucket the backup server does not have. */
const MISSING_BUCKET = 'no-such-backup';

let bed: WorkerBed;
let proxy: S3Proxy;
const workers: Worker[] = [];

beforeEach(async () => {
  bed = await startWorkerBed({ label: 'worker-lifecycle' });
  proxy = await startS3Proxy({ endpoint: bed.backup.endpoint });
});

afterEach(async () => {
  await Promise.allSettled(workers.splice(0).map((worker) => worker.close()));
  await proxy.close();
  await bed.close();
});

/** A worker (not started) whose backup is `MISSING_BUCKET` behind the proxy. */
function workerWithMissingBackup(): Worker {
  const worker = createWorker({
    config: bed.config({ ...s3Env('DEST', proxy.endpoint), DEST_BUCKET: MISSING_BUCKET }),
    logger: silentLogger,
  });
  workers.push(worker);
  return worker;
}

function workerConnections(): Promise<string[]> {
  return connectionNames({ nameContains: `s3relay-worker ${bed.prefix} ` });
}

/**
 * Starts `worker` with the preflight's listings of the backup held until it is connected to the
 * broker; resolves with its start and the remover of the hold (a listing held longer than the
 * check's timeout is given up and asked again, and held again while the hold stays).
 */
async function heldUntilConnected(
  worker: Worker,
): Promise<{ starting: Promise<void>; stopHolding: () => void }> {
  const removeHold = proxy.addFault({
    op: 'ListObjectsV2',
    bucket: MISSING_BUCKET,
    action: { type: 'hold' },
  });
  const starting = worker.start();
  await proxy.whenHeld(1);
  await eventually(async () => expect(await workerConnections()).toHaveLength(1), {
    timeoutMs: 10_000,
  });
  expect(worker.state).toBe('starting');
  expect(await isListening(worker.metricsPort ?? 0)).toBe(true);
  return {
    starting,
    stopHolding: () => {
      removeHold();
      proxy.release();
    },
  };
}

describe('worker: a start that fails', () => {
  it('ends failed with the error, its metrics port free and no broker connection left', async () => {
    const worker = workerWithMissingBackup();
    const { starting, stopHolding } = await heldUntilConnected(worker);
    // S3 answers now: the bucket does not exist, so no task could succeed.
    stopHolding();
    await expect(starting).rejects.toMatchObject({ code: 'RELAY_S3_NO_SUCH_BUCKET' });
    expect(worker.state).toBe('failed');
    expect(worker.error).toMatchObject({ code: 'RELAY_S3_NO_SUCH_BUCKET' });
    expect(worker.isReady).toBe(false);
    expect(await isListening(worker.metricsPort ?? 0)).toBe(false);
    expect(await workerConnections()).toEqual([]);
    // Nothing is left to close, and it stays failed.
    await worker.close();
    expect(worker.state).toBe('failed');
  });

  it('leaves no connection when S3 refuses before the broker answered', async () => {
    // No hold: s3rver refuses the listing within milliseconds, typically while the broker
    // connection is still being opened. That one is dropped once open (the broker's contract,
    // test/integration/amqp-contract.test.ts), so it is waited for.
    const worker = workerWithMissingBackup();
    await expect(worker.start()).rejects.toMatchObject({ code: 'RELAY_S3_NO_SUCH_BUCKET' });
    expect(worker.state).toBe('failed');
    expect(await isListening(worker.metricsPort ?? 0)).toBe(false);
    await eventually(async () => expect(await workerConnections()).toEqual([]), {
      timeoutMs: 10_000,
    });
  });
});

describe('worker: closed while starting', () => {
  it('stops waiting for S3, closes what it started and ends closed', async () => {
    const worker = workerWithMissingBackup();
    const { starting } = await heldUntilConnected(worker);
    await worker.close();
    await expect(starting).resolves.toBeUndefined();
    expect(worker.state).toBe('closed');
    expect(await isListening(worker.metricsPort ?? 0)).toBe(false);
    expect(await workerConnections()).toEqual([]);
  });
});
