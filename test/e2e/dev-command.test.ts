import { execFile } from 'node:child_process';
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
  deleteQueuesWithPrefix,
  eventually,
  freePort,
  rabbitUrl,
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

describe('npm start (s3relay dev)', () => {
  let dev: CliProcess;
  let work: string;
  const prefix = uniquePrefix('dev');

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 's3relay-dev-e2e-'));
    const [sourcePort, backupPort, ingressPort, metricsPort, consolePort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    dev = spawnCli(
      [
        'dev',
        '--amqp-prefix',
        prefix,
        '--source-port',
        String(sourcePort),
        '--backup-port',
        String(backupPort),
        '--ingress-port',
        String(ingressPort),
        '--metrics-port',
        String(metricsPort),
        '--console-port',
        String(consolePort),
        '--data-dir',
        join(work, 'data'),
      ],
      { ...process.env, AMQP_URL: rabbitUrl() },
    );
    await eventually(
      () => {
        expect(dev.child.exitCode, dev.output()).toBeNull();
        expect(dev.output()).toContain('Ctrl-C stops everything');
      },
      { timeoutMs: 90_000, intervalMs: 200 },
    );
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

  it('stops everything cleanly on Ctrl-C', async () => {
    const code = await dev.stop('SIGINT', 40_000);
    expect(code).toBe(0);
    expect(dev.output()).toContain('stopped');
  });
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
