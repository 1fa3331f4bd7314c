/**
 * `s3relay console`'s API in-process against real RabbitMQ, real workers and S3 servers: it
 * learns the workers through the broker without their addresses, shows a real failure in the
 * DLQ, replays and drops through the same operations as the CLI, makes a resync show its dry run
 * first, and keeps out whom it should (token, other hosts, other origins). The page itself is
 * driven in a real browser by test/e2e/console-browser.test.ts.
 */
import { request as httpRequest } from 'node:http';
import { loadConfig, silentLogger } from '@s3relay/core';
import { startConsoleService, type ConsoleService } from '@s3relay/cli';
import type {
  DlqActionResult,
  DlqEntryDetail,
  DlqListResponse,
  JobView,
  OverviewResponse,
  ResyncResult,
} from '@s3relay/console/api-types';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import {
  deleteQueuesWithPrefix,
  publishToQueue,
  queueDepth,
  rabbitUrl,
  uniquePrefix,
} from '../helpers/rabbit.js';
import { startS3Proxy, type S3Proxy } from '../helpers/s3-proxy.js';
import { getObjectBytes, putObject } from '../helpers/s3.js';
import {
  BACKUP_BUCKET,
  SOURCE_BUCKET,
  eventTask,
  startWorkerBed,
  type WorkerBed,
} from '../support/worker-bed.js';
import { declareQueues } from '../support/declare-queues.js';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A request with exactly these headers (fetch would not let a test set Host). */
function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The console's JSON API as its page uses it. */
function apiOf(base: string) {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const answer = await send(new URL(path, base).toString(), {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${answer.body}`);
    return JSON.parse(answer.body) as T;
  };
  const job = async <T>(path: string, body: unknown): Promise<T> => {
    let current = await call<JobView>('POST', path, body);
    await eventually(
      async () => {
        current = await call<JobView>('GET', `/api/jobs/${current.id}`);
        expect(current.state).not.toBe('running');
      },
      { timeoutMs: 30_000, intervalMs: 100, message: `${path} did not finish` },
    );
    expect(current.error).toBeUndefined();
    return current.result as T;
  };
  return {
    get: <T>(path: string) => call<T>('GET', path),
    post: <T>(path: string, body: unknown) => call<T>('POST', path, body),
    job,
  };
}

describe('the console with workers and a failing backup', () => {
  let bed: WorkerBed;
  let proxy: S3Proxy;
  let service: ConsoleService;

  const start = async (workers = 2) => {
    bed = await startWorkerBed({ label: 'console' });
    proxy = await startS3Proxy({ endpoint: bed.backup.endpoint });
    for (let index = 0; index < workers; index += 1) {
      await bed.startWorker({ DEST_S3_ENDPOINT: proxy.endpoint, TELEMETRY_INTERVAL_MS: '200' });
    }
    service = await startConsoleService(
      bed.config({ CONSOLE_HOST: '127.0.0.1', CONSOLE_PORT: '0' }),
      silentLogger,
      { queueIntervalMs: 200, stepMs: 1000 },
    );
    const api = apiOf(service.server.url);
    // The console counts what happens while it listens: a worker's counters before its first
    // snapshot here are its baseline.
    await eventually(
      async () =>
        expect((await api.get<OverviewResponse>('/api/overview')).workers.reporting).toBe(workers),
      { timeoutMs: 15_000, message: 'the console did not hear the workers' },
    );
    return api;
  };

  afterEach(async () => {
    await service?.close();
    await bed?.close();
    await proxy?.close();
  });

  it('finds every worker through the broker, without being told where they are', async () => {
    const api = await start();
    await eventually(
      async () => {
        const overview = await api.get<OverviewResponse>('/api/overview');
        expect(overview.prefix).toBe(bed.prefix);
        expect(overview.broker.connected).toBe(true);
        expect(overview.workers).toEqual({ reporting: 2, consumers: 2 });
        expect(overview.processes.map((p) => [p.role, p.state, p.pid])).toEqual([
          ['worker', 'live', process.pid],
          ['worker', 'live', process.pid],
        ]);
        expect(overview.queues.map((q) => q.queue)).toEqual([
          bed.names.tasks,
          ...bed.names.retryTiers.map((tier) => tier.queue),
          bed.names.dlq,
          bed.names.held,
        ]);
        expect(overview.held).toEqual({ available: true, messages: 0 });
      },
      { timeoutMs: 15_000, message: 'the console did not learn both workers' },
    );
  });

  it('shows a parked task with its headers; a replay after the fix brings the object', async () => {
    const api = await start();
    const removeFault = proxy.addFault({
      op: 'PutObject',
      action: { type: 'status', status: 403, code: 'AccessDenied' },
    });
    const body = Buffer.from('parked, then replayed');
    await putObject(bed.source.client, SOURCE_BUCKET, 'reports/q1.pdf', body);
    const task = eventTask('reports/q1.pdf', 'created');
    await bed.publish([task]);
    await eventually(async () => expect(await queueDepth(bed.url, bed.names.dlq)).toBe(1), {
      message: 'the task was not parked',
    });

    await eventually(
      async () => {
        const overview = await api.get<OverviewResponse>('/api/overview');
        expect(overview.failures).toEqual([
          { code: 'RELAY_S3_ACCESS_DENIED', retries: 0, deadLetters: 1 },
        ]);
      },
      { message: 'the failure did not reach the overview' },
    );
    await api.job('/api/dlq/scan', {});
    const listed = await api.get<DlqListResponse>('/api/dlq');
    expect(listed.scan.total).toBe(1);
    expect(listed.entries.map((e) => [e.id, e.bucket, e.objectKey, e.errorCode])).toEqual([
      [task.id, SOURCE_BUCKET, 'reports/q1.pdf', 'RELAY_S3_ACCESS_DENIED'],
    ]);
    expect(listed.facets.errorCodes).toEqual([{ value: 'RELAY_S3_ACCESS_DENIED', count: 1 }]);
    const detail = await api.get<DlqEntryDetail>(`/api/dlq/entries/${listed.entries[0]?.key}`);
    expect(detail.headers['x-s3relay-error-code']).toBe('RELAY_S3_ACCESS_DENIED');
    expect(detail.task).toMatchObject({ id: task.id, key: 'reports/q1.pdf' });

    const dry = await api.job<DlqActionResult>('/api/dlq/replay', { ids: [task.id], dryRun: true });
    expect(dry).toMatchObject({ action: 'replay', dryRun: true, scanned: 1, matched: 1 });
    expect(await queueDepth(bed.url, bed.names.dlq)).toBe(1);

    removeFault();
    const done = await api.job<DlqActionResult>('/api/dlq/replay', {
      ids: [task.id],
      dryRun: false,
    });
    expect(done.matched).toBe(1);
    await eventually(
      async () =>
        expect(
          await getObjectBytes(bed.backup.client, BACKUP_BUCKET, bed.backupKey('reports/q1.pdf')),
        ).toEqual(body),
      { message: 'the replayed task did not bring the object into the backup' },
    );
    // The action rescanned: the page shows what is left.
    expect((await api.get<DlqListResponse>('/api/dlq')).scan.total).toBe(0);
    await eventually(async () => {
      const overview = await api.get<OverviewResponse>('/api/overview');
      expect(overview.now1m.copiedPerSecond).toBeGreaterThan(0);
      expect(overview.now1m.lag.count).toBe(1);
    });
  });

  it('drops exactly the tasks a filter selects, after a dry run that changes nothing', async () => {
    const api = await start();
    const parked = ['a', 'b', 'c'].map((name) => eventTask(`drop/${name}`, 'created'));
    await publishToQueue(
      bed.url,
      bed.names.dlq,
      parked.map((task, index) => ({
        content: JSON.stringify(task),
        options: {
          messageId: task.id,
          headers: {
            'x-s3relay-error-code':
              index < 2 ? 'RELAY_S3_NO_SUCH_BUCKET' : 'RELAY_S3_ACCESS_DENIED',
            'x-s3relay-error': 'made up',
            'x-s3relay-last-failed-at': new Date().toISOString(),
          },
        },
      })),
    );
    const filter = { errorCode: 'RELAY_S3_NO_SUCH_BUCKET' };
    const dry = await api.job<DlqActionResult>('/api/dlq/drop', {
      all: true,
      filter,
      dryRun: true,
    });
    expect(dry.sample.map((entry) => entry.id)).toEqual([parked[0]?.id, parked[1]?.id]);
    expect(await queueDepth(bed.url, bed.names.dlq)).toBe(3);
    await api.job('/api/dlq/drop', { all: true, filter, dryRun: false });
    const left = await api.get<DlqListResponse>('/api/dlq');
    expect(left.entries.map((entry) => entry.id)).toEqual([parked[2]?.id]);
    expect(await queueDepth(bed.url, bed.names.tasks)).toBe(0);
  });

  it('refuses an action that names no tasks', async () => {
    const api = await start();
    await expect(api.post('/api/dlq/replay', { dryRun: false })).rejects.toThrow(
      /400.*ids, or all/,
    );
    await expect(api.post('/api/dlq/drop', { ids: [], dryRun: false })).rejects.toThrow(/400/);
  });

  it('enqueues a resync only after its dry run, and the dry run enqueues nothing', async () => {
    // No workers: the enqueued tasks stay in the queue to be counted. The queues are declared
    // as a worker would (the console declares nothing).
    const api = await start(0);
    await declareQueues(bed.env());
    for (const key of ['resync/1', 'resync/2']) {
      await putObject(bed.source.client, SOURCE_BUCKET, key, Buffer.from(key));
    }
    await expect(api.post('/api/resync', { bucket: SOURCE_BUCKET, dryRun: false })).rejects.toThrow(
      /409.*dry run/,
    );

    const preview = await api.post<JobView>('/api/resync', { bucket: SOURCE_BUCKET, dryRun: true });
    let result: ResyncResult | undefined;
    await eventually(async () => {
      const job = await api.get<JobView>(`/api/jobs/${preview.id}`);
      expect(job.state).toBe('done');
      result = job.result as ResyncResult;
    });
    expect(result).toMatchObject({ dryRun: true, compared: 2, missing: 2, enqueued: 0 });
    expect(result?.differences).toEqual([
      { key: 'resync/1', status: 'missing' },
      { key: 'resync/2', status: 'missing' },
    ]);
    expect(await queueDepth(bed.url, bed.names.tasks)).toBe(0);
    await expect(
      api.post('/api/resync', { bucket: 'another', dryRun: false, preview: preview.id }),
    ).rejects.toThrow(/409/);

    const real = await api.job<ResyncResult>('/api/resync', {
      bucket: SOURCE_BUCKET,
      dryRun: false,
      preview: preview.id,
    });
    expect(real).toMatchObject({ dryRun: false, missing: 2, enqueued: 2 });
    expect(await queueDepth(bed.url, bed.names.tasks)).toBe(2);
  });
});

describe('who may use the console', () => {
  const prefix = uniquePrefix('console-auth');
  const token = 'a-console-token-for-tests';
  let service: ConsoleService | undefined;

  const start = async (env: Record<string, string>) => {
    service = await startConsoleService(
      loadConfig({ AMQP_URL: rabbitUrl(), AMQP_PREFIX: prefix, CONSOLE_PORT: '0', ...env }),
      silentLogger,
    );
    return service.server.url;
  };

  afterEach(async () => {
    await service?.close();
    service = undefined;
    await deleteQueuesWithPrefix(rabbitUrl(), prefix);
  });

  it('refuses to listen beyond loopback without a token', async () => {
    await expect(start({ CONSOLE_HOST: '0.0.0.0' })).rejects.toThrow(/CONSOLE_TOKEN/);
  });

  it('asks for the token: a login page, 401 for the API, a session or a bearer token', async () => {
    const base = await start({ CONSOLE_HOST: '127.0.0.1', CONSOLE_TOKEN: token });
    const page = await send(base);
    expect(page.status).toBe(303);
    expect(page.headers.location).toBe('/login');
    expect((await send(new URL('/api/overview', base).toString())).status).toBe(401);
    expect((await send(new URL('/login', base).toString())).body).toContain('CONSOLE_TOKEN');

    const login = (candidate: string) =>
      send(new URL('/login', base).toString(), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base.slice(0, -1) },
        body: new URLSearchParams({ token: candidate }).toString(),
      });
    const wrong = await login('not-the-token-at-all');
    expect(wrong.headers.location).toBe('/login?failed=1');
    expect(wrong.headers['set-cookie']).toBeUndefined();
    const right = await login(token);
    expect(right.status).toBe(303);
    const cookie = String(right.headers['set-cookie']).split(';')[0] ?? '';
    expect(String(right.headers['set-cookie'])).toMatch(/HttpOnly; SameSite=Strict/);

    const overview = (headers: Record<string, string>) =>
      send(new URL('/api/overview', base).toString(), { headers });
    expect((await overview({ cookie })).status).toBe(200);
    expect((await overview({ cookie: 's3relay_console_session=forged' })).status).toBe(401);
    expect((await overview({ authorization: `Bearer ${token}` })).status).toBe(200);
    expect((await overview({ authorization: 'Bearer wrong' })).status).toBe(401);
    const pageWithSession = await send(base, { headers: { cookie } });
    expect(pageWithSession.status).toBe(200);
    expect(pageWithSession.headers['content-security-policy']).toContain("default-src 'none'");
  });

  it('without a token, answers only loopback host names and changes only from its own page', async () => {
    const base = await start({ CONSOLE_HOST: '127.0.0.1' });
    const { port } = new URL(base);
    expect((await send(base)).status).toBe(200);
    expect((await send(base, { headers: { host: `localhost:${port}` } })).status).toBe(200);
    // A name that resolves to 127.0.0.1 for someone else's page (DNS rebinding).
    const rebound = await send(new URL('/api/overview', base).toString(), {
      headers: { host: `attacker.example:${port}` },
    });
    expect(rebound.status).toBe(403);

    const scan = (headers: Record<string, string>) =>
      send(new URL('/api/dlq/scan', base).toString(), { method: 'POST', headers, body: '{}' });
    expect(
      (await scan({ 'content-type': 'application/json', origin: 'http://attacker.example' }))
        .status,
    ).toBe(403);
    // A form post from another site cannot be JSON.
    expect((await scan({ 'content-type': 'text/plain' })).status).toBe(415);
    expect(
      (await scan({ 'content-type': 'application/json', origin: base.slice(0, -1) })).status,
    ).toBe(202);
  });
});
