/**
 * `s3relay` as a real process (from the TypeScript sources): a `dlq replay` killed with SIGKILL
 * half way loses no task, and `s3relay all --script` stands in for the original Go server
 * (`/ping`, the VK handshake on `/webhook`, `script <bucket> <key> copy|delete` per event).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vkSignature } from '@s3relay/core';
import { topologyNames } from '@s3relay/core/amqp';
import { afterEach, describe, expect, it } from 'vitest';
import { readWebhookFixture } from '../fixtures/webhook-fixtures.js';
import { eventually } from '../helpers/eventually.js';
import {
  connectAmqp,
  deleteQueuesWithPrefix,
  peekQueue,
  publishToQueue,
  rabbitUrl,
  uniquePrefix,
} from '../helpers/rabbit.js';
import { startS3Server } from '../helpers/s3.js';
import { declareQueues } from '../support/declare-queues.js';
import { eventTask } from '../support/worker-bed.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = fileURLToPath(new URL('../../packages/cli/src/main.ts', import.meta.url));

interface Cli {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/** Starts `s3relay <argv>` from the sources with `env` on top of this process's environment. */
function spawnCli(argv: readonly string[], env: Record<string, string>): Cli {
  const { NODE_OPTIONS: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', MAIN, ...argv], {
    cwd: REPO_ROOT,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: string) => {
    output = (output + chunk).slice(-20_000);
  };
  child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  return { child, exited, output: () => output };
}

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track(cli: Cli): Cli {
  cleanups.push(async () => {
    if (cli.child.exitCode === null && cli.child.signalCode === null) {
      cli.child.kill('SIGKILL');
      await cli.exited;
    }
  });
  return cli;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function idsOf(messages: readonly { properties: { messageId?: unknown } }[]): string[] {
  return messages.map((message) => String(message.properties.messageId));
}

describe('s3relay dlq replay, killed', () => {
  it('loses no parked task when killed with SIGKILL half way', async () => {
    const url = rabbitUrl();
    const prefix = uniquePrefix('cli-replay-kill');
    cleanups.push(() => deleteQueuesWithPrefix(url, prefix));
    const env = { AMQP_URL: url, AMQP_PREFIX: prefix, LOG_LEVEL: 'warn' };
    const names = topologyNames({
      prefix,
      retryDelaysMs: [1000, 10_000, 60_000, 600_000, 3_600_000],
    });
    // As a running worker would have: operator commands only inspect.
    await declareQueues(env);

    const tasks = Array.from({ length: 2000 }, (_, index) =>
      eventTask(`killed/${index}`, 'created'),
    );
    await publishToQueue(
      url,
      names.dlq,
      tasks.map((task) => ({
        content: JSON.stringify(task),
        options: {
          messageId: task.id,
          contentType: 'application/json',
          headers: { 'x-s3relay-error-code': 'RELAY_FAKE_FAILURE', 'x-s3relay-attempts': 8 },
        },
      })),
    );

    const replay = track(spawnCli(['dlq', 'replay', '--all'], env));
    const connection = await connectAmqp(url);
    let depths: { tasks: number; dlq: number };
    try {
      const channel = await connection.createChannel();
      const depthsNow = async () => ({
        tasks: (await channel.checkQueue(names.tasks)).messageCount,
        dlq: (await channel.checkQueue(names.dlq)).messageCount,
      });
      // Kill it as soon as the first replayed tasks are confirmed in the tasks queue.
      await eventually(
        async () => {
          expect(replay.child.exitCode, replay.output()).toBeNull();
          expect((await channel.checkQueue(names.tasks)).messageCount).toBeGreaterThan(0);
        },
        { timeoutMs: 60_000, intervalMs: 10, message: 'the replay did not start' },
      );
      replay.child.kill('SIGKILL');
      expect((await replay.exited).signal).toBe('SIGKILL');
      // The broker returns what the dead process held once it notices the closed connection.
      depths = await eventually(
        async () => {
          const now = await depthsNow();
          expect(now.tasks + now.dlq).toBeGreaterThanOrEqual(tasks.length);
          return now;
        },
        { timeoutMs: 10_000, message: 'the killed replay lost tasks' },
      );
    } finally {
      await connection.close();
    }
    // Killed half way: some tasks moved, some still parked.
    expect(depths.tasks).toBeGreaterThan(0);
    expect(depths.dlq).toBeGreaterThan(0);
    expect(depths.tasks).toBeLessThan(tasks.length);

    const inEither = new Set([
      ...idsOf(await peekQueue(url, names.dlq)),
      ...idsOf(await peekQueue(url, names.tasks)),
    ]);
    const lost = tasks.filter((task) => !inEither.has(task.id));
    expect(lost.map((task) => task.key)).toEqual([]);
  });
});

describe('s3relay all --script (the original server, queued)', () => {
  it('answers /ping and the VK handshake, and runs the script per event', async () => {
    const url = rabbitUrl();
    const prefix = uniquePrefix('cli-all-script');
    cleanups.push(() => deleteQueuesWithPrefix(url, prefix));
    const directory = await mkdtemp(join(tmpdir(), 's3relay-cli-script-'));
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const script = join(directory, 'backup.sh');
    const calls = join(directory, 'calls.txt');
    await writeFile(script, `#!/bin/sh\nprintf '%s|%s|%s\\n' "$1" "$2" "$3" >> '${calls}'\n`);
    await chmod(script, 0o755);
    const port = await freePort();
    // The script's delete runs only when the source answers that the key is gone (NoSuchKey) and
    // its bucket exists: the event's bucket, which holds none of the event's keys.
    const source = await startS3Server({ buckets: ['bucketA'] });
    cleanups.push(() => source.close());

    const all = track(
      spawnCli(['all', '--port', String(port), '--address', '127.0.0.1', '--script', script], {
        ...source.env('SOURCE'),
        AMQP_URL: url,
        AMQP_PREFIX: prefix,
        METRICS_PORT: '0',
        HTTP_METRICS_PORT: '0',
        LOG_LEVEL: 'info',
        SHUTDOWN_TIMEOUT_MS: '2000',
      }),
    );
    const base = `http://127.0.0.1:${port}`;
    const ping = await eventually(
      async () => {
        expect(all.child.exitCode, all.output()).toBeNull();
        const response = await fetch(`${base}/ping`);
        expect(response.status).toBe(200);
        return response.text();
      },
      { timeoutMs: 30_000, intervalMs: 100, message: 's3relay all did not answer /ping' },
    );
    // Byte for byte what the original Go server wrote.
    expect(ping).toBe('Pong\n');

    const confirmation = readWebhookFixture('vk-confirmation.json');
    const handshake = await fetch(`${base}/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: confirmation,
    });
    expect(handshake.status).toBe(200);
    const fields = JSON.parse(confirmation.toString('utf8')) as {
      Token: string;
      Timestamp: string;
      TopicArn: string;
    };
    expect(await handshake.json()).toEqual({
      signature: vkSignature(
        { token: fields.Token, timestamp: fields.Timestamp, topicArn: fields.TopicArn },
        `${base}/webhook`,
      ),
    });

    const notification = JSON.parse(
      readWebhookFixture('vk-notification.json').toString('utf8'),
    ) as { Records: { eventName: string; s3: { object: { key: string; sequencer: number } } }[] };
    const post = async (eventName: string, key: string, sequencer: number) => {
      const [record] = notification.Records;
      if (record === undefined) throw new Error('the fixture has no record');
      const body = {
        Records: [
          {
            ...record,
            eventName,
            s3: { ...record.s3, object: { ...record.s3.object, key, sequencer } },
          },
        ],
      };
      const response = await fetch(`${base}/webhook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(response.status, await response.text()).toBe(200);
    };
    // VK form-encodes keys: '+' and %20 are both spaces.
    await post('s3:ObjectCreated:Put', 'photos/summer+2024/my%20photo.jpg', 1577453615);
    await post('s3:ObjectRemoved:Delete', 'photos/summer+2024/my+photo.jpg', 1577453616);

    const lines = await eventually(
      async () => {
        const text = await readFile(calls, 'utf8').catch(() => '');
        const found = text.split('\n').filter((line) => line !== '');
        expect(found).toHaveLength(2);
        return found;
      },
      { timeoutMs: 20_000, intervalMs: 100, message: 'the script was not called twice' },
    );
    expect(lines.sort()).toEqual([
      'bucketA|photos/summer 2024/my photo.jpg|copy',
      'bucketA|photos/summer 2024/my photo.jpg|delete',
    ]);

    // Every service started long before the script ran. The child runs on the Node that runs
    // the tests (CI runs them on two runtimes).
    const started = all
      .output()
      .split('\n')
      .filter((line) => line.includes('"service started"'))
      .map((line) => (JSON.parse(line) as { node?: string }).node);
    // broker, ingress, worker
    expect(started, all.output()).toEqual([process.version, process.version, process.version]);

    all.child.kill('SIGTERM');
    const exit = await all.exited;
    expect(exit, all.output()).toEqual({ code: 0, signal: null });
  });
});
