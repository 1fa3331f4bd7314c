/**
 * Wipe 1 of issue 11, "a 404 that is not S3's": with SOURCE_S3_ENDPOINT pointing at something
 * that is not S3 (an HTML 404 page, an empty 404, a stray XML answer), a NoSuchBucket or a 403,
 * no backup object may be deleted. Every such task is retried, then parked with a code that
 * tells the operator what to check, while the backup keeps every object. Only S3's own
 * `NoSuchKey` for the key, with the bucket proven by S3's listing of it, deletes.
 *
 * The worker checks the source at startup (a listing of each SOURCE_BUCKETS entry) and refuses
 * to start on such an endpoint; so the source here turns bad once the worker is running, through
 * a proxy in front of the real one, as a misrouted proxy or CDN would.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { peekQueue, queueDepth } from '../helpers/rabbit.js';
import { startS3Proxy, type S3Operation, type S3Proxy } from '../helpers/s3-proxy.js';
import { getObjectBytes, putObject } from '../helpers/s3.js';
import {
  HTML_404,
  NGINX_404,
  startStrayHttpServer,
  type StrayAnswer,
  type StrayHttpServer,
} from '../helpers/stray-http.js';
import { cli } from '../support/cli-run.js';
import {
  BACKUP_BUCKET,
  SOURCE_BUCKET,
  eventTask,
  startWorkerBed,
  type WorkerBed,
} from '../support/worker-bed.js';
import { spawnWorker, type WorkerProcess } from '../support/worker-process.js';

let bed: WorkerBed;
/** In front of the backup: every DeleteObject a worker sends passes here. */
let backupProxy: S3Proxy;
const closers: (() => Promise<unknown>)[] = [];

beforeEach(async () => {
  bed = await startWorkerBed({ label: 'gone-means-gone' });
  backupProxy = await startS3Proxy({ endpoint: bed.backup.endpoint });
});

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  await backupProxy.close();
  await bed.close();
});

/** Puts backup objects (as earlier replication left them) and returns their bytes by key. */
async function seedBackup(keys: readonly string[]): Promise<Map<string, string>> {
  const contents = new Map(keys.map((key) => [key, `backup of ${key}`]));
  for (const [key, body] of contents) {
    await putObject(bed.backup.client, BACKUP_BUCKET, bed.backupKey(key), body);
  }
  return contents;
}

/** Every seeded object is still in the backup with its bytes, and no delete reached it. */
async function expectBackupIntact(contents: ReadonlyMap<string, string>): Promise<void> {
  for (const [key, body] of contents) {
    const bytes = await getObjectBytes(bed.backup.client, BACKUP_BUCKET, bed.backupKey(key));
    expect(bytes?.toString('utf8'), `backup of ${key}`).toBe(body);
  }
  expect(backupProxy.operations.filter((op) => op.op === 'DeleteObject')).toEqual([]);
}

/**
 * The source as the worker sees it: the real one until {@link turnBad}, then `answer` for
 * every request, without forwarding.
 */
async function sourceFront(): Promise<S3Proxy> {
  const proxy = await startS3Proxy({ endpoint: bed.source.endpoint });
  closers.push(() => proxy.close());
  return proxy;
}

function turnBad(proxy: S3Proxy, answer: (url: string) => StrayAnswer = () => HTML_404): void {
  proxy.addFault({ op: '*', action: { type: 'respond', respond: answer } });
}

/** The requests the bad source answered. */
function answeredBad(proxy: S3Proxy): S3Operation[] {
  return proxy.operations.filter((op) => op.fault === 'respond');
}

async function stray(answer?: (url: string) => StrayAnswer): Promise<StrayHttpServer> {
  const server = await startStrayHttpServer(
    answer === undefined ? undefined : (req) => answer(req.url ?? ''),
  );
  closers.push(() => server.close());
  return server;
}

/** The codes of the parked tasks, by key. */
async function parkedCodes(): Promise<Map<string, string>> {
  const parked = await peekQueue(bed.url, bed.names.dlq);
  return new Map(
    parked.map((message) => [
      (JSON.parse(message.content.toString('utf8')) as { key: string }).key,
      String(message.properties.headers?.['x-s3relay-error-code']),
    ]),
  );
}

describe('gone means gone', () => {
  it('an HTML 404 page as the source deletes nothing: every task is retried, parked as RELAY_SOURCE_NOT_S3 and listed with what to check', async () => {
    const contents = await seedBackup(['a.txt', 'b.txt', 'photos/c.jpg', 'd']);
    const source = await sourceFront();
    const worker: WorkerProcess = spawnWorker(
      bed.env({
        SOURCE_S3_ENDPOINT: source.endpoint,
        DEST_S3_ENDPOINT: backupProxy.endpoint,
        MAX_ATTEMPTS: '2',
        LOG_LEVEL: 'info',
      }),
    );
    closers.push(() => worker.kill());
    await worker.ready;
    turnBad(source);
    // Creates and deletes alike: today both end in a DeleteObject of the backup.
    await bed.publish([
      eventTask('a.txt', 'created'),
      eventTask('b.txt', 'created'),
      eventTask('photos/c.jpg', 'removed'),
      eventTask('d', 'removed'),
    ]);
    await eventually(async () => expect(await queueDepth(bed.url, bed.names.dlq)).toBe(4), {
      timeoutMs: 30_000,
      message: `worker output:\n${worker.output()}`,
    });
    // The fault happened: the worker asked the stray server (twice per task: two attempts).
    expect(answeredBad(source).filter((op) => op.op === 'GetObject').length).toBeGreaterThan(7);
    await expectBackupIntact(contents);
    expect([...(await parkedCodes()).values()]).toEqual(Array(4).fill('RELAY_SOURCE_NOT_S3'));
    expect(worker.output()).toContain('"code":"RELAY_SOURCE_NOT_S3"');

    const list = await cli(['dlq', 'list'], bed.env());
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain('4 parked');
    expect(list.stdout).toContain('RELAY_SOURCE_NOT_S3');
    expect(list.stdout).toContain('check that SOURCE_S3_ENDPOINT points at S3');
    expect(list.stdout).toContain(
      'nothing was deleted. Once fixed: s3relay dlq replay --error-code RELAY_SOURCE_NOT_S3',
    );
  });

  const xmlError = (code: string): StrayAnswer => ({
    status: 404,
    contentType: 'application/xml',
    body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>m</Message></Error>`,
  });

  it.each<[string, (url: string) => StrayAnswer]>([
    ['an empty 404', () => ({ status: 404 })],
    ["nginx's 404 page", () => NGINX_404],
    [
      'a 404 whose body is JSON',
      () => ({ status: 404, contentType: 'application/json', body: '{"Code":"NoSuchKey"}' }),
    ],
    // Says NoSuchKey like S3, but its listing of the bucket is a web page, not S3's.
    [
      'an XML NoSuchKey from something whose listing is HTML',
      (url) => (url.includes('list-type=2') ? { ...HTML_404, status: 200 } : xmlError('NoSuchKey')),
    ],
    [
      'an XML NoSuchKey from something whose listing is a 404 page',
      (url) => (url.includes('list-type=2') ? HTML_404 : xmlError('NoSuchKey')),
    ],
  ])('%s deletes nothing and parks the task as RELAY_SOURCE_NOT_S3', async (_what, answer) => {
    const contents = await seedBackup(['k']);
    const source = await sourceFront();
    await bed.startWorker({
      SOURCE_S3_ENDPOINT: source.endpoint,
      DEST_S3_ENDPOINT: backupProxy.endpoint,
      MAX_ATTEMPTS: '2',
    });
    turnBad(source, answer);
    await bed.publish([eventTask('k', 'removed')]);
    await eventually(async () => expect(await queueDepth(bed.url, bed.names.dlq)).toBe(1), {
      timeoutMs: 15_000,
    });
    expect(answeredBad(source).length).toBeGreaterThan(0);
    await expectBackupIntact(contents);
    expect(await parkedCodes()).toEqual(new Map([['k', 'RELAY_SOURCE_NOT_S3']]));
  });

  it('a source without the bucket (NoSuchBucket) deletes nothing: RELAY_SOURCE_NO_SUCH_BUCKET', async () => {
    const contents = await seedBackup(['k']);
    const source = await sourceFront();
    await bed.startWorker({
      SOURCE_S3_ENDPOINT: source.endpoint,
      DEST_S3_ENDPOINT: backupProxy.endpoint,
      MAX_ATTEMPTS: '2',
    });
    // The bucket is deleted (or the endpoint moved to an account without it) while running.
    source.addFault({ op: '*', action: { type: 'status', status: 404, code: 'NoSuchBucket' } });
    await bed.publish([eventTask('k', 'removed')]);
    await eventually(async () => expect(await queueDepth(bed.url, bed.names.dlq)).toBe(1), {
      timeoutMs: 15_000,
    });
    await expectBackupIntact(contents);
    expect(await parkedCodes()).toEqual(new Map([['k', 'RELAY_SOURCE_NO_SUCH_BUCKET']]));
  });

  it.each(['GetObject', 'ListObjectsV2'] as const)(
    'a 403 from the source (%s) deletes nothing: RELAY_SOURCE_ACCESS_DENIED',
    async (op) => {
      const contents = await seedBackup(['k']);
      const sourceProxy = await startS3Proxy({ endpoint: bed.source.endpoint });
      closers.push(() => sourceProxy.close());
      await bed.startWorker({
        SOURCE_S3_ENDPOINT: sourceProxy.endpoint,
        DEST_S3_ENDPOINT: backupProxy.endpoint,
        MAX_ATTEMPTS: '2',
      });
      sourceProxy.addFault({ op, action: { type: 'status', status: 403 } });
      await bed.publish([eventTask('k', 'removed')]);
      await eventually(async () => expect(await queueDepth(bed.url, bed.names.dlq)).toBe(1), {
        timeoutMs: 15_000,
      });
      await expectBackupIntact(contents);
      expect(await parkedCodes()).toEqual(new Map([['k', 'RELAY_SOURCE_ACCESS_DENIED']]));
    },
  );

  it("deletes on S3's NoSuchKey with the bucket listed, one listing for a burst of deletes", async () => {
    await seedBackup(['gone/1', 'gone/2', 'gone/3', 'kept']);
    await putObject(bed.source.client, SOURCE_BUCKET, 'kept', 'still here');
    const sourceProxy = await startS3Proxy({ endpoint: bed.source.endpoint });
    closers.push(() => sourceProxy.close());
    await bed.startWorker({
      SOURCE_S3_ENDPOINT: sourceProxy.endpoint,
      DEST_S3_ENDPOINT: backupProxy.endpoint,
    });
    // Its startup check listed the bucket once; what follows is the deletes' proof.
    sourceProxy.clearOperations();
    await bed.publish(
      ['gone/1', 'gone/2', 'gone/3', 'kept'].map((key) => eventTask(key, 'removed')),
    );
    await eventually(
      () => {
        const deleted = backupProxy.operations.filter(
          (op) => op.op === 'DeleteObject' && op.status === 204,
        );
        expect(deleted.map((op) => op.key).sort()).toEqual(
          ['gone/1', 'gone/2', 'gone/3'].map((key) => bed.backupKey(key)),
        );
      },
      { timeoutMs: 15_000 },
    );
    for (const key of ['gone/1', 'gone/2', 'gone/3']) {
      expect(
        await getObjectBytes(bed.backup.client, BACKUP_BUCKET, bed.backupKey(key)),
      ).toBeUndefined();
    }
    // A forged delete of an object the source still has is never a delete: it reconciles to a copy.
    expect(
      (await getObjectBytes(bed.backup.client, BACKUP_BUCKET, bed.backupKey('kept')))?.toString(),
    ).toBe('still here');
    expect(sourceProxy.operations.filter((op) => op.op === 'ListObjectsV2')).toHaveLength(1);
  });

  it('a worker whose source is not S3 at startup refuses to start: RELAY_SOURCE_NOT_S3, nothing asked but the listing', async () => {
    const contents = await seedBackup(['k']);
    const source = await stray();
    const started = bed.startWorker({
      SOURCE_S3_ENDPOINT: source.endpoint,
      DEST_S3_ENDPOINT: backupProxy.endpoint,
    });
    const error = await started.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toMatchObject({ code: 'RELAY_SOURCE_NOT_S3' });
    expect((error as Error).message).toContain(
      `source bucket "${SOURCE_BUCKET}" (SOURCE_BUCKETS) at ${source.endpoint}`,
    );
    expect((error as Error).message).toContain('SOURCE_S3_ENDPOINT');
    // One listing of the bucket, one key at most; no object was asked for.
    expect(source.requests).toHaveLength(1);
    expect(source.requests[0]?.url).toMatch(new RegExp(`^/${SOURCE_BUCKET}/?\\?.*list-type=2`));
    expect(source.requests[0]?.url).toContain('max-keys=1');
    await expectBackupIntact(contents);
  });
});
