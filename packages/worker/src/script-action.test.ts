import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PermanentError,
  TransientError,
  createTask,
  silentLogger,
  type TaskKind,
} from '@s3relay/core';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DeletionCheck } from './deletion-check.js';
import { createScriptAction } from './script-action.js';

let dir: string;

async function script(name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

function task(key: string, kind: TaskKind) {
  return createTask({
    origin: 'mcs',
    kind,
    eventName: kind === 'removed' ? 'ObjectRemoved:Delete' : 'ObjectCreated:Put',
    bucket: 'photos',
    key,
    size: null,
    eTag: null,
    versionId: null,
    sequencer: null,
    eventTime: null,
  });
}

/** What a script gets of the worker's environment here: the base variables, no extras. */
const PLAIN_ENV = { passEnv: [], environment: process.env };
const run = { signal: new AbortController().signal, logger: silentLogger };
/** The source says every object is gone (the check itself is tested against real S3). */
const gone: DeletionCheck = () => Promise.resolve({ proceed: true });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 's3relay-script-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('script action', () => {
  it('passes bucket, key and verb as separate arguments; a key cannot inject commands', async () => {
    const out = join(dir, 'args.txt');
    const path = await script('args.sh', `printf '%s\\n' "$#" "$1" "$2" "$3" > '${out}'`);
    const action = createScriptAction({
      script: path,
      timeoutMs: 5000,
      ...PLAIN_ENV,
      deletionCheck: gone,
    });
    const key = 'a b/$(touch pwned);`id`|x&&y\n"q\'';
    expect(await action(task(key, 'created'), run)).toEqual({ outcome: 'executed' });
    expect(await readFile(out, 'utf8')).toBe(`3\nphotos\n${key}\ncopy\n`);
    await action(task('gone.txt', 'removed'), run);
    expect((await readFile(out, 'utf8')).split('\n')[3]).toBe('delete');
    await expect(readFile(join(dir, 'pwned'))).rejects.toThrow();
  });

  it('runs nothing for events that are neither created nor removed', async () => {
    const path = await script('never.sh', `touch '${join(dir, 'ran')}'`);
    const action = createScriptAction({
      script: path,
      timeoutMs: 5000,
      ...PLAIN_ENV,
      deletionCheck: gone,
    });
    expect(await action(task('k', 'other'), run)).toEqual({ outcome: 'ignored' });
    await expect(readFile(join(dir, 'ran'))).rejects.toThrow();
  });

  it('runs no delete the deletion check refuses or holds, and nothing when it throws', async () => {
    const path = await script('refused.sh', `touch '${join(dir, 'deleted')}'`);
    for (const reason of ['source-exists', 'deletes-off'] as const) {
      const action = createScriptAction({
        script: path,
        timeoutMs: 5000,
        ...PLAIN_ENV,
        deletionCheck: () => Promise.resolve({ proceed: false, reason }),
      });
      expect(await action(task('k', 'removed'), run)).toEqual({ outcome: 'ignored' });
    }
    const held = createScriptAction({
      script: path,
      timeoutMs: 5000,
      ...PLAIN_ENV,
      deletionCheck: () => Promise.resolve({ proceed: false, reason: 'held' }),
    });
    expect(await held(task('k', 'removed'), run)).toEqual({ outcome: 'held' });
    const unproven = new TransientError('RELAY_SOURCE_NOT_S3', 'not S3');
    const action = createScriptAction({
      script: path,
      timeoutMs: 5000,
      ...PLAIN_ENV,
      deletionCheck: () => Promise.reject(unproven),
    });
    await expect(action(task('k', 'removed'), run)).rejects.toBe(unproven);
    await expect(readFile(join(dir, 'deleted'))).rejects.toThrow();
  });

  it('fails transiently on a non-zero exit, with the last line of stderr', async () => {
    const path = await script(
      'fail.sh',
      'echo "copying $2" ; echo "no route to backup" >&2 ; exit 3',
    );
    const action = createScriptAction({
      script: path,
      timeoutMs: 5000,
      ...PLAIN_ENV,
      deletionCheck: gone,
    });
    const error = await action(task('k', 'created'), run).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as TransientError).code).toBe('RELAY_SCRIPT_FAILED');
    expect((error as Error).message).toContain('exited with 3: no route to backup');
  });

  it('kills the whole process group on timeout', async () => {
    // The grandchild holds the write end of a FIFO: its death reads as the FIFO's end.
    const fifo = join(dir, 'grandchild.fifo');
    execFileSync('mkfifo', [fifo]);
    const path = await script(
      'slow.sh',
      `(exec 3>'${fifo}'; echo up >&3; exec sleep 30) & sleep 30`,
    );
    // The time limit runs on a fake clock, so it cannot run out before the grandchild is up.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const action = createScriptAction({
      script: path,
      timeoutMs: 300,
      ...PLAIN_ENV,
      deletionCheck: gone,
    });
    const outcome = action(task('k', 'created'), run).catch((err: unknown) => err);
    const grandchild = createReadStream(fifo, { encoding: 'utf8' });
    expect(await once(grandchild, 'data')).toEqual(['up\n']);
    const grandchildGone = once(grandchild, 'end');
    await vi.advanceTimersByTimeAsync(300);
    expect(((await outcome) as TransientError).code).toBe('RELAY_SCRIPT_TIMEOUT');
    await grandchildGone;
  });

  it('fails transiently when the script cannot start', async () => {
    const action = createScriptAction({
      script: join(dir, 'missing.sh'),
      timeoutMs: 1000,
      ...PLAIN_ENV,
      deletionCheck: gone,
    });
    const error = await action(task('k', 'created'), run).catch((err: unknown) => err);
    expect((error as TransientError).code).toBe('RELAY_SCRIPT_FAILED');
    expect((error as Error).message).toContain('could not start');
  });

  it('gives the script only the allowed variables and its task as S3RELAY_* variables', async () => {
    const out = join(dir, 'env.txt');
    const path = await script('env.sh', `env > '${out}'`);
    const action = createScriptAction({
      script: path,
      timeoutMs: 5000,
      deletionCheck: gone,
      passEnv: ['EXTRA_ONE', 'UNSET_ONE'],
      environment: {
        PATH: '/usr/bin:/bin',
        TZ: 'UTC',
        EXTRA_ONE: 'yes',
        AMQP_URL: 'amqp://user:secret@broker',
        DEST_S3_SECRET_ACCESS_KEY: 'secret',
      },
    });
    const created = createTask({
      origin: 's3',
      eventName: 'ObjectCreated:Put',
      bucket: 'photos',
      key: '-rf ../x',
      size: 42,
      eTag: 'abc',
      versionId: null,
      sequencer: '01',
      eventTime: null,
    });
    await action(created, run);
    const lines = (await readFile(out, 'utf8')).trim().split('\n').sort();
    expect(lines).toEqual(
      [
        'PATH=/usr/bin:/bin',
        'TZ=UTC',
        'EXTRA_ONE=yes',
        'S3RELAY_BUCKET=photos',
        'S3RELAY_KEY=-rf ../x',
        'S3RELAY_VERB=copy',
        'S3RELAY_EVENT=ObjectCreated:Put',
        'S3RELAY_ORIGIN=s3',
        `S3RELAY_TASK_ID=${created.id}`,
        'S3RELAY_SIZE=42',
        'S3RELAY_ETAG=abc',
        'S3RELAY_SEQUENCER=01',
        // sh sets these itself.
        ...lines.filter((line) => /^(PWD|SHLVL|_)=/.test(line)),
      ].sort(),
    );
  });

  it('parks a task whose key no process can be given (a NUL) at once, running nothing', async () => {
    const ran = join(dir, 'nul-ran');
    const path = await script('nul.sh', `touch '${ran}'`);
    let checked = 0;
    const action = createScriptAction({
      script: path,
      timeoutMs: 1000,
      deletionCheck: () => {
        checked += 1;
        return Promise.resolve({ proceed: true });
      },
      ...PLAIN_ENV,
    });
    for (const kind of ['created', 'removed'] as const) {
      const error = await action(task('a\u0000b', kind), run).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as PermanentError).code).toBe('RELAY_SCRIPT_NUL_IN_TASK');
      expect((error as PermanentError).retryable).toBe(false);
      expect((error as Error).message).toContain('key "a\\u0000b" holds a NUL character');
      expect((error as Error).message).toContain('s3relay dlq drop --id ');
    }
    // Neither the script nor, for a delete, the source check and the delete breaker's grant.
    expect(checked).toBe(0);
    await expect(readFile(ran)).rejects.toThrow();
  });
});
