import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  childPids,
  commandLine,
  deleteQueuesWithPrefix,
  eventually,
  freePort,
  isListening,
  isRunning,
  rabbitUrl,
  rabbitmqctl,
  targetForUrl,
  uniquePrefix,
} from '../helpers/index.js';
import { REPO_ROOT, spawnCli, type CliProcess } from './cli-process.js';

const exec = promisify(execFile);

/** Runs shell lines exactly as a user pastes them. */
async function sh(
  lines: readonly string[],
  cwd: string,
): Promise<{ stdout: string; stderr: string }> {
  return exec('bash', ['-euo', 'pipefail', '-c', lines.join('\n')], { cwd, timeout: 60_000 });
}

/** The indented lines of the printed block that follows `heading`, up to the next heading. */
function block(output: string, heading: string): string[] {
  const start = output.indexOf(heading);
  expect(start, `"${heading}" is printed`).toBeGreaterThanOrEqual(0);
  const lines: string[] = [];
  for (const line of output
    .slice(start + heading.length)
    .split('\n')
    .slice(1)) {
    if (line.trim() === '') {
      if (lines.length > 0) break;
      continue;
    }
    if (!line.startsWith('  ')) break;
    lines.push(line.trim());
  }
  return lines;
}

/** The ports of one dev stack, each free a moment ago. */
interface DevPorts {
  source: number;
  backup: number;
  ingress: number;
  /** The workers' metrics ports are this and the next; the ingress's is after theirs. */
  metrics: number;
  console: number;
}

async function freeDevPorts(): Promise<DevPorts> {
  return {
    source: await freePort(),
    backup: await freePort(),
    ingress: await freePort(),
    metrics: await freePort(),
    console: await freePort(),
  };
}

function devArgs(ports: DevPorts, prefix: string, dataDir: string): string[] {
  return [
    'dev',
    '--amqp-prefix',
    prefix,
    '--source-port',
    String(ports.source),
    '--backup-port',
    String(ports.backup),
    '--ingress-port',
    String(ports.ingress),
    '--metrics-port',
    String(ports.metrics),
    '--console-port',
    String(ports.console),
    '--data-dir',
    dataDir,
  ];
}

/** Starts `s3relay dev` and waits until it says the stack is up. */
async function startDev(ports: DevPorts, prefix: string, dataDir: string): Promise<CliProcess> {
  const dev = spawnCli(devArgs(ports, prefix, dataDir), {
    ...process.env,
    AMQP_URL: rabbitUrl(),
  });
  await eventually(
    () => {
      expect(dev.child.exitCode, dev.output()).toBeNull();
      expect(dev.output()).toContain('Ctrl-C stops everything');
    },
    { timeoutMs: 90_000, intervalMs: 200 },
  );
  return dev;
}

/** The queues and exchanges named `<prefix>.*` on the broker, as rabbitmqctl lists them. */
async function brokerObjects(prefix: string): Promise<string[]> {
  const names: string[] = [];
  for (const kind of ['list_queues', 'list_exchanges']) {
    const listed = await rabbitmqctl(
      [kind, 'name', '--quiet', '--no-table-headers'],
      targetForUrl(rabbitUrl()),
    );
    names.push(...listed.split('\n').map((line) => line.trim()));
  }
  return names.filter((name) => name.startsWith(`${prefix}.`)).sort();
}

describe('npm start (s3relay dev)', () => {
  let dev: CliProcess;
  let work: string;
  const prefix = uniquePrefix('dev');

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 's3relay-dev-e2e-'));
    dev = await startDev(await freeDevPorts(), prefix, join(work, 'data'));
  });

  afterAll(async () => {
    await dev?.stop('SIGKILL');
    await deleteQueuesWithPrefix(rabbitUrl(), prefix);
    await rm(work, { recursive: true, force: true });
  });

  it('prints aws commands that work as printed: the file appears in the backup, then disappears', async () => {
    const tryIt = block(dev.output(), 'Try it in another terminal:');
    const exports = tryIt.filter((line) => line.startsWith('export '));
    const put = tryIt.filter((line) => line.startsWith('echo ') || line.includes(' s3 cp '));
    const [listBackup] = tryIt.filter((line) => line.includes(' s3 ls '));
    const remove = tryIt.filter((line) => line.includes(' s3 rm '));
    expect(exports).toHaveLength(2);
    expect(put).toHaveLength(2);
    expect(remove).toHaveLength(1);
    expect(listBackup).toBeDefined();

    await sh([...exports, ...put], work);
    await eventually(
      async () => {
        const { stdout } = await sh([...exports, listBackup ?? ''], work);
        expect(stdout).toMatch(/\s19 hello\.txt/);
      },
      { timeoutMs: 20_000, intervalMs: 300 },
    );
    await sh([...exports, ...remove], work);
    await eventually(
      async () => {
        const { stdout } = await sh([...exports, listBackup ?? ''], work);
        expect(stdout).not.toContain('hello.txt');
      },
      { timeoutMs: 20_000, intervalMs: 300 },
    );
  });

  it('prints operator commands that work as printed from the repository', async () => {
    const operate = block(dev.output(), 'Operate it');
    const [sourceEnv, status, , verify] = operate.map((line) => line.replace(/\s+#.*$/, ''));
    expect(sourceEnv).toMatch(/^set -a; \. .+; set \+a$/);
    const statusRun = await sh([sourceEnv ?? '', status ?? ''], REPO_ROOT);
    expect(statusRun.stdout).toContain(`${prefix}.tasks`);
    expect(statusRun.stdout).toMatch(new RegExp(`${prefix}\\.tasks\\s+\\d+\\s+2\\b`));
    const verifyRun = await sh([sourceEnv ?? '', verify ?? ''], REPO_ROOT);
    expect(verifyRun.stdout).toContain('backup equals source');
  });

  it('runs the janitor against the stack: the emulated backup lists and aborts open uploads', async () => {
    const [sourceEnv] = block(dev.output(), 'Operate it');
    const envFile = /^set -a; \. (.+); set \+a$/.exec(sourceEnv ?? '')?.[1] ?? '';
    const settings = Object.fromEntries(
      (await readFile(envFile, 'utf8'))
        .split('\n')
        .filter((line) => line.includes('='))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    const client = new S3Client({
      endpoint: settings.DEST_S3_ENDPOINT,
      region: settings.DEST_S3_REGION,
      forcePathStyle: true,
      credentials: {
        accessKeyId: settings.DEST_S3_ACCESS_KEY_ID ?? '',
        secretAccessKey: settings.DEST_S3_SECRET_ACCESS_KEY ?? '',
      },
    });
    try {
      const upload = await client.send(
        new CreateMultipartUploadCommand({ Bucket: settings.DEST_BUCKET, Key: 'left/open.bin' }),
      );
      const run = await sh([sourceEnv ?? '', 'npx s3relay janitor --older-than 0s'], REPO_ROOT);
      expect(run.stdout).toContain(`${settings.DEST_BUCKET}: 1 open multipart uploads, aborted 1`);
      expect(run.stdout).toContain(upload.UploadId ?? 'no upload id');
      const after = await client.send(
        new ListMultipartUploadsCommand({ Bucket: settings.DEST_BUCKET }),
      );
      expect(after.Uploads ?? []).toEqual([]);
    } finally {
      client.destroy();
    }
  });

  it("prints the console's address, where the console shows the stack's ingress and workers", async () => {
    const url = /^\s+console\s+(http:\/\/127\.0\.0\.1:\d+\/)\s/m.exec(dev.output())?.[1];
    expect(url, dev.output()).toBeDefined();
    expect((await fetch(url ?? '')).headers.get('content-type')).toContain('text/html');
    await eventually(
      async () => {
        const overview = (await (await fetch(`${url}api/overview`)).json()) as {
          prefix: string;
          processes: { role: string; state: string }[];
        };
        expect(overview.prefix).toBe(prefix);
        expect(overview.processes.map((p) => `${p.role} ${p.state}`).sort()).toEqual([
          'ingress live',
          'worker live',
          'worker live',
        ]);
      },
      { timeoutMs: 20_000, intervalMs: 500, message: 'the console did not show the stack' },
    );
  });

  it('answers health and metrics where it says', async () => {
    const watch = block(dev.output(), 'Watch it:');
    const urls = watch.join(' ').match(/http:\/\/127\.0\.0\.1:\d+\/\w+/g) ?? [];
    expect(urls.length).toBeGreaterThanOrEqual(5);
    for (const url of urls) {
      const response = await fetch(url);
      expect(response.status, url).toBe(200);
    }
  });

  it('lines up the comments of the printed commands in one column', () => {
    for (const heading of ['Try it in another terminal:', 'Operate it']) {
      const columns = new Set(
        block(dev.output(), heading)
          .filter((line) => line.includes('   # '))
          .map((line) => line.indexOf('   # ')),
      );
      expect(columns.size, heading).toBe(1);
    }
  });

  it('refuses to clean while the stack runs, and removes nothing', async () => {
    const clean = spawnCli(['dev', '--clean', ...cleanArgs()], {
      ...process.env,
      AMQP_URL: rabbitUrl(),
    });
    expect(await clean.exited, clean.output()).toBe(1);
    expect(clean.output()).toContain('the stack is still running');
    expect(await brokerObjects(prefix)).toContain(`${prefix}.tasks`);
    expect(existsSync(join(work, 'data', 'env'))).toBe(true);
  });

  it('stops everything cleanly on Ctrl-C', async () => {
    const code = await dev.stop('SIGINT', 40_000);
    expect(code).toBe(0);
    expect(dev.output()).toContain('stopped');
    expect(dev.output()).toContain('`npm start -- --clean`');
  });

  it('--clean then removes its queues, its exchange and its data directory', async () => {
    // The delete above declared the ledger of the default DELETE_LIMIT, and the stack ran with
    // the default RETRY_DELAYS; the settings have changed since, which names other queues.
    expect(await brokerObjects(prefix)).toEqual(
      expect.arrayContaining([
        `${prefix}.dlq`,
        `${prefix}.delete-ledger.1000-per-1h`,
        `${prefix}.retry.10m`,
      ]),
    );
    const clean = spawnCli(['dev', '--clean', ...cleanArgs()], {
      ...process.env,
      AMQP_URL: rabbitUrl(),
      DELETE_LIMIT: '7/1m',
      RETRY_DELAYS: '5s',
    });
    expect(await clean.exited, clean.output()).toBe(0);
    expect(clean.output()).toContain(`deleted the exchange ${prefix}.telemetry`);
    expect((await brokerObjects(prefix)).join(' '), clean.output()).toBe('');
    expect(existsSync(join(work, 'data'))).toBe(false);
    // The work directory's other contents are not dev's: they stay.
    expect(existsSync(work)).toBe(true);
  });

  function cleanArgs(): string[] {
    return ['--amqp-prefix', prefix, '--data-dir', join(work, 'data')];
  }
});

describe('npm start without a broker', () => {
  it('says how to start RabbitMQ and exits 3', async () => {
    const port = await freePort();
    const dev = spawnCli(['dev', '--ingress-port', String(await freePort())], {
      ...process.env,
      AMQP_URL: `amqp://guest:guest@127.0.0.1:${port}`,
    });
    const code = await dev.exited;
    expect(code).toBe(3);
    expect(dev.output()).toContain('RabbitMQ is not reachable');
    expect(dev.output()).toContain('rabbitmq-server -detached');
  });
});

describe('a SIGKILLed npm start', () => {
  const prefix = uniquePrefix('dev-kill');
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 's3relay-dev-kill-'));
  });

  afterAll(async () => {
    await deleteQueuesWithPrefix(rabbitUrl(), prefix);
    await rm(work, { recursive: true, force: true });
  });

  it('leaves no service running and every port free', async () => {
    const ports = await freeDevPorts();
    const dev = await startDev(ports, prefix, join(work, 'data'));
    const children = await childPids(dev.child.pid ?? -1);
    const services = (await Promise.all(children.map(commandLine)))
      .map((line) => /main\.js (\w+)$/.exec(line)?.[1])
      .filter((name) => name !== undefined)
      .sort();
    expect(services).toEqual(['console', 'ingress', 'worker', 'worker']);
    dev.child.kill('SIGKILL');
    await dev.exited;
    await eventually(
      async () => {
        for (const pid of children) expect(await isRunning(pid), `pid ${pid}`).toBe(false);
      },
      { timeoutMs: 5000, intervalMs: 100, message: 'a service outlived its dev stack' },
    );
    const listened = [
      ports.ingress,
      ports.metrics,
      ports.metrics + 1,
      ports.metrics + 2,
      ports.console,
      ports.source,
      ports.backup,
    ];
    // Another test's short-lived listener may take a freed port for a moment; an orphan would
    // hold it for good.
    await eventually(
      async () => {
        for (const port of listened) expect(await isListening(port), `port ${port}`).toBe(false);
      },
      { timeoutMs: 5000, intervalMs: 100, message: 'a port outlived its dev stack' },
    );
  });

  it('the next start names a port still taken and what to do, in one line', async () => {
    const ports = await freeDevPorts();
    const holder = createServer().listen(ports.ingress, '127.0.0.1');
    await once(holder, 'listening');
    try {
      const dev = spawnCli(devArgs(ports, prefix, join(work, 'taken')), {
        ...process.env,
        AMQP_URL: rabbitUrl(),
      });
      expect(await dev.exited).toBe(2);
      const lines = dev.output().trim().split('\n');
      const errors = lines.filter((line) => line.startsWith('s3relay:'));
      expect(errors, dev.output()).toHaveLength(1);
      expect(errors[0]).toContain(`port ${ports.ingress} (ingress) is taken`);
      expect(errors[0]).toContain(`npm start -- --ingress-port <port>`);
      expect(dev.output()).not.toMatch(/^\s+at /m);
      // Nothing was started: the source bucket's port is free again.
      expect(await isListening(ports.source)).toBe(false);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});
