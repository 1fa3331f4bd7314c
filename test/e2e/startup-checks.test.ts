/**
 * How the built services and operator commands start, or refuse to, when what they are given
 * is wrong (a password, a vhost, a port, a script) or only unreachable for now: a refusal is one
 * line on stderr with the exit code the README documents; an unreachable broker is waited for
 * quietly, visible in /readyz.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/ports.js';
import { deleteQueuesWithPrefix, rabbitUrl, uniquePrefix } from '../helpers/rabbit.js';
import { s3Env, startS3Server, type TestS3 } from '../helpers/s3.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { spawnCli, type CliProcess } from './cli-process.js';

const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function baseEnv(): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _ignored, ...inherited } = process.env;
  const prefix = uniquePrefix('startup');
  cleanups.push(() => deleteQueuesWithPrefix(rabbitUrl(), prefix));
  return {
    ...inherited,
    AMQP_URL: rabbitUrl(),
    AMQP_PREFIX: prefix,
    HTTP_PORT: '0',
    HTTP_METRICS_PORT: '0',
    METRICS_PORT: '0',
    LOG_LEVEL: 'info',
    SHUTDOWN_TIMEOUT_MS: '1000',
  };
}

function run(args: readonly string[], env: NodeJS.ProcessEnv): CliProcess {
  const cli = spawnCli(args, env);
  cleanups.push(() => cli.stop('SIGKILL'));
  return cli;
}

/** The broker URL with another password, as an operator would mistype it. */
function withPassword(password: string): string {
  const url = new URL(rabbitUrl());
  url.password = password;
  return url.toString().replace(/\/$/, '');
}

/** A refusal: exactly one line on stderr, no stack trace anywhere, the given exit code. */
async function expectOneLineRefusal(cli: CliProcess, exitCode: number): Promise<string> {
  const code = await cli.exited;
  expect(code, cli.output()).toBe(exitCode);
  const lines = cli
    .errors()
    .split('\n')
    .filter((line) => line !== '');
  expect(lines, cli.output()).toHaveLength(1);
  expect(cli.output()).not.toMatch(/\n\s+at /);
  return lines[0] ?? '';
}

describe('a broker that refuses what it is given', () => {
  const password = 'not-the-password';

  for (const service of ['ingress', 'worker', 'all']) {
    it(`s3relay ${service} exits 3 with one line naming the broker on a wrong password`, async () => {
      const cli = run([service], { ...baseEnv(), AMQP_URL: withPassword(password) });
      const line = await expectOneLineRefusal(cli, 3);
      const shown = new URL(rabbitUrl());
      expect(line).toContain(`amqp://${shown.username}:***@${shown.host}`);
      expect(line).toContain('ACCESS_REFUSED');
      expect(line).toContain('AMQP_URL');
      expect(cli.output()).not.toContain(password);
      expect(cli.output()).not.toContain('"service started"');
    });
  }

  it('s3relay worker exits 3 naming a vhost that does not exist', async () => {
    const vhost = `no-such-vhost-${process.pid}`;
    const cli = run(['worker'], { ...baseEnv(), AMQP_URL: `${rabbitUrl()}/${vhost}` });
    const line = await expectOneLineRefusal(cli, 3);
    expect(line).toContain(`virtual host "${vhost}"`);
  });

  it('operator commands say the broker refused the login, not that it is unreachable', async () => {
    const cli = run(['status'], { ...baseEnv(), AMQP_URL: withPassword(password) });
    const line = await expectOneLineRefusal(cli, 3);
    expect(line).toContain('refused the login');
    expect(line).not.toContain('not reachable');
    expect(cli.output()).not.toContain(password);
  });
});

describe('a broker that is not reachable yet', () => {
  it('is waited for quietly, not ready meanwhile, and then used', async () => {
    // A port that resets every connection until the broker is "back".
    const broker = new URL(rabbitUrl());
    const proxy = await startTcpProxy({ port: Number(broker.port || 5672) });
    cleanups.push(() => proxy.close());
    proxy.setMode('reset');
    const metricsPort = await freePort();
    const cli = run(['worker'], {
      ...baseEnv(),
      AMQP_URL: proxy.url(rabbitUrl()),
      METRICS_PORT: String(metricsPort),
    });
    const metrics = `http://127.0.0.1:${metricsPort}`;
    // Several attempts have failed (the broker's own counter), and the worker is not ready.
    await eventually(
      async () => {
        const text = await (await fetch(`${metrics}/metrics`)).text();
        const failures = /s3relay_broker_node_failures_total\{[^}]*\} (\d+)/.exec(text);
        expect(Number(failures?.[1] ?? 0)).toBeGreaterThanOrEqual(4);
      },
      { timeoutMs: 30_000, intervalMs: 200, message: cli.output() },
    );
    expect((await fetch(`${metrics}/readyz`)).status).toBe(503);
    // One line per error, however many attempts failed with it.
    const errors = cli
      .output()
      .split('\n')
      .filter((line) => line.includes('"broker connect failed"'))
      .map((line) => (JSON.parse(line) as { error: string }).error);
    expect(errors.length, cli.output()).toBeGreaterThan(0);
    expect(new Set(errors).size, cli.output()).toBe(errors.length);
    expect(cli.output()).not.toContain('"service started"');
    expect(cli.output()).not.toMatch(/\n\s+at /);

    proxy.setMode('pass');
    await eventually(async () => expect((await fetch(`${metrics}/readyz`)).status).toBe(200), {
      timeoutMs: 30_000,
      intervalMs: 200,
      message: cli.output(),
    });
    expect(cli.output()).toContain('"broker connected"');
    expect(cli.output()).toContain('"service started"');
    expect(await cli.stop()).toBe(0);
  });
});

describe('a setting of the process itself that is wrong', () => {
  let held: Server | undefined;

  afterEach(async () => {
    await new Promise<void>((resolve) =>
      held === undefined ? resolve() : held.close(() => resolve()),
    );
    held = undefined;
  });

  it('s3relay ingress exits 2 naming HTTP_PORT when the port is in use', async () => {
    held = createServer();
    await new Promise<void>((resolve) => held?.listen(0, '127.0.0.1', resolve));
    const { port } = held.address() as { port: number };
    const cli = run(['ingress'], { ...baseEnv(), HTTP_PORT: String(port) });
    const line = await expectOneLineRefusal(cli, 2);
    expect(line).toContain(`HTTP_PORT=${port}: 127.0.0.1:${port} is already in use`);
  });

  it('s3relay worker exits 2 naming METRICS_PORT when the port is in use', async () => {
    held = createServer();
    await new Promise<void>((resolve) => held?.listen(0, '127.0.0.1', resolve));
    const { port } = held.address() as { port: number };
    const cli = run(['worker'], { ...baseEnv(), METRICS_PORT: String(port) });
    const line = await expectOneLineRefusal(cli, 2);
    expect(line).toContain(`METRICS_PORT=${port}: 127.0.0.1:${port} is already in use`);
  });

  it('s3relay worker --script exits 2 when the script is not executable', async () => {
    const directory = await mkdtemp(join(tmpdir(), 's3relay-startup-'));
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const script = join(directory, 'backup.sh');
    await writeFile(script, '#!/bin/sh\nexit 0\n');
    await chmod(script, 0o644);
    const cli = run(['worker', '--script', script], baseEnv());
    const line = await expectOneLineRefusal(cli, 2);
    expect(line).toBe(
      `s3relay: worker cannot start: ACTION_SCRIPT=${script}: not executable (chmod +x it)`,
    );
  });
});

describe('S3 sides checked before the first task', () => {
  /** A source and a backup s3rver with one bucket each, and a worker's environment for them. */
  async function s3Bed(): Promise<{ source: TestS3; backup: TestS3; env: NodeJS.ProcessEnv }> {
    const [source, backup] = await Promise.all([
      startS3Server({ buckets: ['photos'] }),
      startS3Server({ buckets: ['photos-backup'] }),
    ]);
    cleanups.push(() => Promise.all([source.close(), backup.close()]));
    const env = {
      ...baseEnv(),
      ...s3Env('SOURCE', source.endpoint),
      ...s3Env('DEST', backup.endpoint),
      SOURCE_BUCKETS: 'photos',
      DEST_BUCKET: 'photos-backup',
    };
    return { source, backup, env };
  }

  it('s3relay worker exits 3 naming the backup side and bucket when its key is refused', async () => {
    const { env, backup } = await s3Bed();
    const cli = run(['worker'], { ...env, DEST_S3_ACCESS_KEY_ID: 'NOT-A-KEY' });
    const line = await expectOneLineRefusal(cli, 3);
    expect(line).toContain(`backup bucket "photos-backup" (DEST_BUCKET) at ${backup.endpoint}`);
    expect(line).toContain('DEST_S3_ACCESS_KEY_ID');
  });

  it('s3relay worker exits 3 naming a source bucket that does not exist', async () => {
    const { env, source } = await s3Bed();
    const cli = run(['worker'], { ...env, SOURCE_BUCKETS: 'fotos' });
    const line = await expectOneLineRefusal(cli, 3);
    expect(line).toContain(`source bucket "fotos" (SOURCE_BUCKETS) at ${source.endpoint}`);
    expect(line).toContain('no such bucket');
  });

  it('waits for an S3 side that does not answer, and /readyz follows S3 once running', async () => {
    const { env, backup } = await s3Bed();
    const front = await startTcpProxy({ port: backup.port });
    cleanups.push(() => front.close());
    front.setMode('reset');
    const metricsPort = await freePort();
    const cli = run(['worker'], {
      ...env,
      DEST_S3_ENDPOINT: `http://127.0.0.1:${front.port}`,
      METRICS_PORT: String(metricsPort),
    });
    const readyz = async () => (await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status;
    await eventually(
      () => expect(cli.output()).toContain('S3 not reachable at startup; checking again'),
      { timeoutMs: 20_000, intervalMs: 100, message: cli.output() },
    );
    expect(await readyz()).toBe(503);
    expect(cli.output()).not.toContain('"service started"');

    front.setMode('pass');
    await eventually(async () => expect(await readyz()).toBe(200), {
      timeoutMs: 30_000,
      intervalMs: 200,
      message: cli.output(),
    });
    expect(cli.output()).toContain('"service started"');

    // S3 goes away while the worker runs: not ready, and ready again once it is back.
    front.setMode('reset');
    await eventually(async () => expect(await readyz()).toBe(503), {
      timeoutMs: 30_000,
      intervalMs: 200,
      message: cli.output(),
    });
    front.setMode('pass');
    await eventually(async () => expect(await readyz()).toBe(200), {
      timeoutMs: 30_000,
      intervalMs: 200,
      message: cli.output(),
    });
    expect(cli.output()).toContain('S3 answers again; ready');
    expect(cli.output()).not.toMatch(/\n\s+at /);
    expect(await cli.stop()).toBe(0);
  });
});
