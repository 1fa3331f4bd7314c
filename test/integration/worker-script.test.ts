import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { drainQueue, queueDepth } from '../helpers/rabbit.js';
import { putObject } from '../helpers/s3.js';
import { startS3Proxy } from '../helpers/s3-proxy.js';
import { HTML_404 } from '../helpers/stray-http.js';
import { SOURCE_BUCKET, eventTask, startWorkerBed, type WorkerBed } from '../support/worker-bed.js';
import { spawnWorker, type WorkerProcess } from '../support/worker-process.js';

let bed: WorkerBed;
let dir: string;

beforeEach(async () => {
  bed = await startWorkerBed({ label: 'worker-script' });
  dir = await mkdtemp(join(tmpdir(), 's3relay-worker-script-'));
});

const children: WorkerProcess[] = [];

afterEach(async () => {
  await Promise.all(children.splice(0).map((child) => child.kill()));
  await bed.close();
  await rm(dir, { recursive: true, force: true });
});

/** An action script; `$1` bucket, `$2` key, `$3` copy|delete, as the original server passed. */
async function script(body: string): Promise<string> {
  const path = join(dir, 'action.sh');
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

function logsWith(message: string) {
  return bed.logs().filter((line) => line.message === message);
}

describe('worker: ACTION=script', () => {
  it('runs the script per task with bucket, key and verb; exit 0 acks; output goes to the log', async () => {
    const calls = join(dir, 'calls.log');
    const path = await script(`echo "$1|$2|$3" >> '${calls}'; echo "did $3 of $2"`);
    await bed.startWorker({ ACTION: 'script', ACTION_SCRIPT: path });
    await bed.publish([
      eventTask('photos/a b.jpg', 'created'),
      eventTask('photos/$(id).jpg', 'removed'),
    ]);
    await eventually(() => expect(logsWith('task done')).toHaveLength(2), { timeoutMs: 10_000 });
    const lines = (await readFile(calls, 'utf8')).trim().split('\n').sort();
    expect(lines).toEqual(['source|photos/$(id).jpg|delete', 'source|photos/a b.jpg|copy']);
    expect(
      logsWith('script succeeded')
        .map((line) => line.stdout)
        .sort(),
    ).toEqual(['did copy of photos/a b.jpg', 'did delete of photos/$(id).jpg']);
    expect(logsWith('task done').map((line) => line.outcome)).toEqual(['executed', 'executed']);
    expect(await queueDepth(bed.url, bed.names.tasks)).toBe(0);
  });

  it("runs delete only on the source's NoSuchKey: a forged delete of an existing object runs nothing", async () => {
    const calls = join(dir, 'calls.log');
    const path = await script(`echo "$2|$3" >> '${calls}'`);
    await putObject(bed.source.client, SOURCE_BUCKET, 'exists.txt', 'still here');
    await bed.startWorker({ ACTION: 'script', ACTION_SCRIPT: path });
    await bed.publish([eventTask('exists.txt', 'removed'), eventTask('gone.txt', 'removed')]);
    await eventually(() => expect(logsWith('task done')).toHaveLength(2), { timeoutMs: 10_000 });
    expect((await readFile(calls, 'utf8')).trim().split('\n')).toEqual(['gone.txt|delete']);
    expect(logsWith('the source object exists; script delete not run')).toHaveLength(1);
  });

  it('runs no delete when the source is not S3 (an HTML 404 page): parked as RELAY_SOURCE_NOT_S3', async () => {
    const calls = join(dir, 'calls.log');
    const path = await script(`echo "$2|$3" >> '${calls}'`);
    // The source turns into a web server once the worker runs (it checks the source at startup).
    const source = await startS3Proxy({ endpoint: bed.source.endpoint });
    try {
      await bed.startWorker({
        ACTION: 'script',
        ACTION_SCRIPT: path,
        SOURCE_S3_ENDPOINT: source.endpoint,
        MAX_ATTEMPTS: '2',
      });
      source.addFault({ op: '*', action: { type: 'respond', respond: () => HTML_404 } });
      await bed.publish([eventTask('k', 'removed')]);
      await eventually(async () => expect(await queueDepth(bed.url, bed.names.dlq)).toBe(1), {
        timeoutMs: 15_000,
      });
      const [parked] = await drainQueue(bed.url, bed.names.dlq);
      expect(parked?.properties.headers?.['x-s3relay-error-code']).toBe('RELAY_SOURCE_NOT_S3');
      expect(source.operations.filter((op) => op.fault === 'respond').length).toBeGreaterThan(0);
      await expect(readFile(calls, 'utf8')).rejects.toThrow();
    } finally {
      await source.close();
    }
  });

  it('retries a non-zero exit through the tiers, then dead-letters it with the reason', async () => {
    const path = await script('echo "backup host unreachable" >&2; exit 7');
    await bed.startWorker({ ACTION: 'script', ACTION_SCRIPT: path, MAX_ATTEMPTS: '3' });
    await bed.publish([eventTask('k', 'created')]);
    await eventually(async () => expect(await queueDepth(bed.url, bed.names.dlq)).toBe(1), {
      timeoutMs: 15_000,
    });
    const [parked] = await drainQueue(bed.url, bed.names.dlq);
    const headers = parked?.properties.headers ?? {};
    expect(headers['x-s3relay-error-code']).toBe('RELAY_SCRIPT_FAILED');
    expect(String(headers['x-s3relay-error'])).toContain('exited with 7: backup host unreachable');
    expect(headers['x-s3relay-attempts']).toBe(3);
    expect(logsWith('script failed')).toHaveLength(3);
    expect(logsWith('script failed')[0]?.stderr).toBe('backup host unreachable');
  });

  it('kills a script that runs longer than ACTION_SCRIPT_TIMEOUT_MS and retries the task', async () => {
    const attempts = join(dir, 'attempts');
    // Hangs on its first run, succeeds on the second.
    const path = await script(
      `if [ -f '${attempts}' ]; then exit 0; fi; touch '${attempts}'; sleep 30`,
    );
    await bed.startWorker({
      ACTION: 'script',
      ACTION_SCRIPT: path,
      ACTION_SCRIPT_TIMEOUT_MS: '500',
    });
    const startedAt = Date.now();
    await bed.publish([eventTask('slow', 'created')]);
    await eventually(() => expect(logsWith('task done')).toHaveLength(1), { timeoutMs: 10_000 });
    expect(Date.now() - startedAt).toBeLessThan(5000);
    const [retry] = logsWith('task failed; retrying later');
    expect(retry?.code).toBe('RELAY_SCRIPT_TIMEOUT');
    expect(logsWith('task done')[0]?.outcome).toBe('executed');
    expect(await queueDepth(bed.url, bed.names.dlq)).toBe(0);
  });

  it('refuses to start when ACTION_SCRIPT is not executable', async () => {
    const path = join(dir, 'not-executable.sh');
    await writeFile(path, '#!/bin/sh\nexit 0\n');
    await expect(bed.startWorker({ ACTION: 'script', ACTION_SCRIPT: path })).rejects.toThrow(
      /ACTION_SCRIPT=.*: not executable/,
    );
  });
});

describe('worker process: what ACTION_SCRIPT is given', () => {
  /** A script that writes its arguments and its environment, NUL-separated (values hold newlines). */
  async function dumpScript(): Promise<{ path: string; args: string; env: string }> {
    const args = join(dir, 'args');
    const env = join(dir, 'env');
    const path = await script(`printf '%s\\0' "$@" > '${args}'; env -0 > '${env}'`);
    return { path, args, env };
  }

  async function startProcess(overrides: Record<string, string>): Promise<void> {
    const child = spawnWorker(bed.env({ LOG_LEVEL: 'info', ...overrides }));
    children.push(child);
    await child.ready;
  }

  it('gets its task as arguments and S3RELAY_* variables, the allowed variables, and no secret', async () => {
    const dump = await dumpScript();
    await startProcess({
      ACTION: 'script',
      ACTION_SCRIPT: dump.path,
      ACTION_SCRIPT_ENV: 'SCRIPT_SETTING',
      SCRIPT_SETTING: 'passed',
      NOT_LISTED: 'kept back',
      TZ: 'Europe/Moscow',
    });
    const key = '-rf ../x\nnewline';
    const task = { ...eventTask(key, 'created'), size: 42, eTag: 'e7a9' };
    await bed.publish([task]);
    await eventually(async () => expect(await readFile(dump.env, 'utf8')).toContain('S3RELAY'), {
      timeoutMs: 15_000,
    });
    expect((await readFile(dump.args, 'utf8')).split('\0')).toEqual([
      SOURCE_BUCKET,
      key,
      'copy',
      '',
    ]);
    const env = new Map(
      (await readFile(dump.env, 'utf8'))
        .split('\0')
        .filter((entry) => entry !== '')
        .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
    );
    expect(Object.fromEntries([...env].filter(([name]) => name.startsWith('S3RELAY_')))).toEqual({
      S3RELAY_BUCKET: SOURCE_BUCKET,
      S3RELAY_KEY: key,
      S3RELAY_VERB: 'copy',
      S3RELAY_EVENT: 'ObjectCreated:Put',
      S3RELAY_ORIGIN: 's3',
      S3RELAY_TASK_ID: task.id,
      S3RELAY_SIZE: '42',
      S3RELAY_ETAG: 'e7a9',
      S3RELAY_SEQUENCER: task.sequencer,
    });
    expect(env.get('SCRIPT_SETTING')).toBe('passed');
    expect(env.get('TZ')).toBe('Europe/Moscow');
    expect(env.get('PATH')).toBe(process.env.PATH);
    // The worker has all of these; the script none.
    for (const name of [
      'NOT_LISTED',
      'AMQP_URL',
      'SOURCE_S3_SECRET_ACCESS_KEY',
      'DEST_S3_SECRET_ACCESS_KEY',
      'SOURCE_S3_ACCESS_KEY_ID',
      'ACTION_SCRIPT',
      'NODE_OPTIONS',
    ]) {
      expect(env.has(name), name).toBe(false);
    }
  });

  it('parks a task whose bucket is not an S3 bucket name; the script never runs', async () => {
    const dump = await dumpScript();
    await startProcess({ ACTION: 'script', ACTION_SCRIPT: dump.path, MAX_ATTEMPTS: '2' });
    await bed.publish([{ ...eventTask('k', 'created'), bucket: '-rf' }]);
    await eventually(async () => expect(await queueDepth(bed.url, bed.names.dlq)).toBe(1), {
      timeoutMs: 15_000,
    });
    const [parked] = await drainQueue(bed.url, bed.names.dlq);
    expect(parked?.properties.headers?.['x-s3relay-error-code']).toBe('RELAY_TASK_INVALID');
    expect(String(parked?.properties.headers?.['x-s3relay-error'])).toContain(
      'not an S3 bucket name',
    );
    await expect(readFile(dump.args, 'utf8')).rejects.toThrow();
  });

  it('refuses to start when ACTION_SCRIPT_ENV lists a secret', async () => {
    const dump = await dumpScript();
    await expect(
      startProcess({
        ACTION: 'script',
        ACTION_SCRIPT: dump.path,
        ACTION_SCRIPT_ENV: 'PATH,AMQP_URL,DEST_S3_SECRET_ACCESS_KEY',
      }),
    ).rejects.toThrow(/ACTION_SCRIPT_ENV lists secrets[^]*AMQP_URL, DEST_S3_SECRET_ACCESS_KEY/);
  });
});
