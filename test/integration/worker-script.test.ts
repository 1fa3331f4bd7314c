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

let bed: WorkerBed;
let dir: string;

beforeEach(async () => {
  bed = await startWorkerBed({ label: 'worker-script' });
  dir = await mkdtemp(join(tmpdir(), 's3relay-worker-script-'));
});

afterEach(async () => {
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
      `ACTION_SCRIPT=${path}: not executable (chmod +x it)`,
    );
  });
});
