/**
 * The delete gate against a real S3 source: a backup delete goes ahead only while the source's
 * `NoSuchKey` is fresh. When the grant comes late (a slow broker), the source is asked again, and
 * an object written meanwhile keeps its backup.
 */
import { createTask, type Task } from '@s3relay/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceBucketProof, createDeleteGate } from '@s3relay/worker';
import { createTestS3Client, putObject, startS3Server, type TestS3 } from '../helpers/s3.js';
import { startS3Proxy, type S3Proxy } from '../helpers/s3-proxy.js';

const BUCKET = 'gate-source';
let source: TestS3;
/** In front of the source: counts the gate's own requests. */
let proxy: S3Proxy;

beforeAll(async () => {
  source = await startS3Server({ buckets: [BUCKET] });
  proxy = await startS3Proxy({ endpoint: source.endpoint });
});

afterAll(async () => {
  await proxy.close();
  await source.close();
});

function removal(key: string): Task {
  return createTask({
    origin: 'mcs',
    eventName: 'ObjectRemoved:Delete',
    bucket: BUCKET,
    key,
    size: null,
    eTag: null,
    versionId: null,
    sequencer: key,
    eventTime: null,
  });
}

/** A breaker whose grant arrives when `grant()` is called, as a slow broker's would. */
function slowBreaker() {
  let grant!: () => void;
  const granted = new Promise<void>((resolve) => (grant = resolve));
  let asked!: () => void;
  const askedFor = new Promise<void>((resolve) => (asked = resolve));
  return {
    breaker: {
      async pass() {
        asked();
        await granted;
        return 'granted' as const;
      },
    },
    grant,
    askedFor,
  };
}

function gate(breaker: ReturnType<typeof slowBreaker>['breaker'], maxProofAgeMs: number) {
  const client = createTestS3Client(proxy.endpoint);
  return createDeleteGate({
    source: client,
    bucketProof: new SourceBucketProof(client),
    breaker,
    maxProofAgeMs,
  });
}

const signal = new AbortController().signal;

describe('the delete gate', () => {
  it('after a late grant, keeps the backup of an object written while it waited', async () => {
    const task = removal('written-meanwhile');
    const slow = slowBreaker();
    const provenAt = performance.now();
    const verdict = gate(slow.breaker, 0).admit({ task, provenAt, signal, context: {} });
    await slow.askedFor;
    await putObject(source.client, BUCKET, task.key, 'back again');
    slow.grant();
    expect(await verdict).toBe('reappeared');
  });

  it('after a late grant, admits the delete of an object still gone, having asked again', async () => {
    const task = removal('still-gone');
    const slow = slowBreaker();
    const verdict = gate(slow.breaker, 0).admit({
      task,
      provenAt: performance.now(),
      signal,
      context: {},
    });
    await slow.askedFor;
    slow.grant();
    expect(await verdict).toBe('admitted');
    const asked = proxy.operations.filter((op) => op.op === 'GetObject' && op.key === task.key);
    expect(asked.map((op) => op.status)).toEqual([404]);
  });

  it('with a fresh proof, admits at once without asking the source again', async () => {
    const task = removal('fresh-proof');
    const slow = slowBreaker();
    slow.grant();
    const verdict = await gate(slow.breaker, 60_000).admit({
      task,
      provenAt: performance.now(),
      signal,
      context: {},
    });
    expect(verdict).toBe('admitted');
    expect(proxy.operations.filter((op) => op.key === task.key)).toEqual([]);
  });
});
