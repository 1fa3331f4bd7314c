/**
 * The operator's small commands in-process: `status` with and without a broker, `sign` (the VK
 * documentation's vector), `config` and configuration errors, `janitor` through the recording S3
 * proxy (s3rver implements neither ListMultipartUploads nor AbortMultipartUpload), and `--json`
 * wherever the flag is written.
 */
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { CreateMultipartUploadCommand } from '@aws-sdk/client-s3';
import { deleteTopology, topologyNames } from '@s3relay/core/amqp';
import { afterEach, describe, expect, it } from 'vitest';
import { publishToQueue, rabbitUrl, uniquePrefix, withChannel } from '../helpers/rabbit.js';
import { startS3Proxy, type S3Proxy } from '../helpers/s3-proxy.js';
import { createTestS3Client, s3Env, startS3Server, type TestS3 } from '../helpers/s3.js';
import { cli, json } from '../support/cli-run.js';
import { declareQueues } from '../support/declare-queues.js';
import { freePort } from '../helpers/ports.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fresh AMQP prefix whose queues are deleted after the test. */
function brokerEnv(label: string): Record<string, string> {
  const prefix = uniquePrefix(label);
  const names = topologyNames({ prefix, retryDelaysMs: [1000, 30_000] });
  cleanups.push(() => withChannel(rabbitUrl(), (channel) => deleteTopology(channel, names)));
  return { AMQP_URL: rabbitUrl(), AMQP_PREFIX: prefix, RETRY_DELAYS: '1s,30s' };
}

interface StatusJson {
  broker: string;
  prefix: string;
  queues: { role: string; queue: string; exists: boolean; messages: number; consumers: number }[];
}

/** Which of `queues` exist, by passive declaration (each on a channel of its own). */
async function existing(queues: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const queue of queues) {
    const exists = await withChannel(rabbitUrl(), (channel) =>
      channel.checkQueue(queue).then(
        () => true,
        () => false,
      ),
    );
    if (exists) found.push(queue);
  }
  return found;
}

describe('status', () => {
  it('exits 1 naming the prefix when no queues exist under it, and creates none', async () => {
    const env = brokerEnv('cli-status-wrong-prefix');
    const prefix = env.AMQP_PREFIX ?? '';
    const names = topologyNames({ prefix, retryDelaysMs: [1000, 30_000] });
    const all = [names.tasks, names.dlq, names.held, ...names.retryTiers.map((t) => t.queue)];
    expect(await existing(all)).toEqual([]);
    for (const argv of [
      ['status'],
      ['--json', 'status'],
      ['dlq', 'list'],
      ['dlq', 'purge', '--yes'],
    ]) {
      const run = await cli(argv, env);
      expect(run.code, `${argv.join(' ')}: ${run.stderr}`).toBe(1);
      expect(run.stdout, argv.join(' ')).toBe('');
      expect(run.stderr, argv.join(' ')).toContain(`no s3relay queues under prefix "${prefix}"`);
      expect(run.stderr, argv.join(' ')).toContain('AMQP_PREFIX');
    }
    expect(await existing(all)).toEqual([]);
  });

  it('shows a retry tier the services do not have as missing, without creating it', async () => {
    const env = brokerEnv('cli-status-tiers');
    const prefix = env.AMQP_PREFIX ?? '';
    await declareQueues({ ...env, RETRY_DELAYS: '1s' });
    const run = await cli(['status'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`queues under prefix "${prefix}" at amqp://`);
    expect(run.stdout).toMatch(new RegExp(`retry +${prefix}\\.retry\\.30s +does not exist`));
    expect(run.stderr).toContain(`${prefix}.retry.30s not found`);
    expect(await existing([`${prefix}.retry.30s`])).toEqual([]);
  });

  it('exits 0 with the depth of every queue, --json before or after the command', async () => {
    const env = brokerEnv('cli-status');
    const prefix = env.AMQP_PREFIX ?? '';
    await declareQueues(env);
    const first = await cli(['status'], env);
    expect(first.code, first.stderr).toBe(0);
    await publishToQueue(rabbitUrl(), `${prefix}.tasks`, ['{}', '{}', '{}']);
    await publishToQueue(rabbitUrl(), `${prefix}.dlq`, ['{}', '{}']);

    const human = await cli(['status'], env);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`tasks +${prefix}\\.tasks +3 +0`));
    expect(human.stdout).toMatch(new RegExp(`dlq +${prefix}\\.dlq +2 +0`));

    for (const argv of [
      ['--json', 'status'],
      ['status', '--json'],
    ]) {
      const run = await cli(argv, env);
      expect(run.code, run.stderr).toBe(0);
      expect(json<StatusJson>(run)).toEqual({
        broker: 'reachable',
        prefix,
        queues: [
          { role: 'tasks', queue: `${prefix}.tasks`, exists: true, messages: 3, consumers: 0 },
          { role: 'retry', queue: `${prefix}.retry.1s`, exists: true, messages: 0, consumers: 0 },
          {
            role: 'retry',
            queue: `${prefix}.retry.30s`,
            exists: true,
            messages: 0,
            consumers: 0,
          },
          { role: 'dlq', queue: `${prefix}.dlq`, exists: true, messages: 2, consumers: 0 },
          { role: 'held', queue: `${prefix}.held`, exists: true, messages: 0, consumers: 0 },
        ],
      });
    }
  });

  it('exits 3 with a message that says how to start a broker when none answers', async () => {
    // A port that accepts nothing: listen, note it, close.
    const server: Server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));

    // Two nodes of a cluster, both down: each is tried, and named without its password.
    const env = {
      AMQP_URL: `amqp://guest:secret@127.0.0.1:${port},amqp://guest:secret2@localhost:${port}`,
      AMQP_PREFIX: 'unreachable',
    };
    const run = await cli(['--json', 'status'], env);
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(
      `RabbitMQ is not reachable at amqp://guest:***@127.0.0.1:${port},amqp://guest:***@localhost:${port}`,
    );
    expect(run.stderr).toContain('rabbitmq-server');
    expect(run.stderr).toContain('AMQP_URL');
    expect(run.stderr).not.toContain('secret');
  });
});

describe('sign', () => {
  it("prints the signature of VK's documented handshake (VK-1)", async () => {
    const argv = [
      'sign',
      '--token',
      'RPE5UuG94rGgBH6kHXN9FUPugFxj1hs2aUQc99btJp3E49tA',
      '--timestamp',
      '2019-12-26T19:29:12+03:00',
      '--topic-arn',
      'mcs2883541269|bucketA|s3:ObjectCreated:Put',
      '--url',
      'http://test.com',
    ];
    const expected = 'ea3fce4bb15c6de4fec365d36bcebbc34ccddf54616d5ca12e1972f82b6d37af';
    const human = await cli(argv, {});
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toBe(`${expected}\n`);
    const run = await cli(['--json', ...argv], {});
    expect(json(run)).toEqual({ signature: expected, url: 'http://test.com' });
  });
});

describe('usage errors', () => {
  it('exit 2 with the error on the given stderr, in subcommands too', async () => {
    for (const [argv, message] of [
      [['sign', '--token', 'x'], "required option '--timestamp <timestamp>' not specified"],
      [['dlq', 'list', '--limit', 'many'], 'a positive integer'],
      [['verify', '--bucket', 'b', '--no-such-flag'], "unknown option '--no-such-flag'"],
      [['janitor', '--older-than', 'a while'], 'not a duration'],
      [['all', '--port', '99999'], 'a port number from 0 to 65535'],
      [['no-such-command'], "unknown command 'no-such-command'"],
    ] as const) {
      const run = await cli(argv, {});
      expect(run.code, argv.join(' ')).toBe(2);
      expect(run.stderr, argv.join(' ')).toContain(message);
    }
  });
});

describe('configuration', () => {
  const bad = {
    AMQP_PREFIX: 'bad prefix!',
    HTTP_PORT: '99999',
    RETRY_DELAYS: 'soon',
    DEST_S3_ENDPOINT: 'not a url',
  };

  it('an invalid configuration exits 2 naming every bad variable, for every command', async () => {
    for (const argv of [
      ['status'],
      ['dlq', 'list'],
      ['resync', '--bucket', 'b'],
      ['verify', '--bucket', 'b'],
      ['janitor'],
      ['config'],
    ]) {
      const run = await cli(argv, bad);
      expect(run.code, `${argv.join(' ')}: ${run.stderr}`).toBe(2);
      for (const name of Object.keys(bad)) expect(run.stderr, argv.join(' ')).toContain(name);
    }
  });

  it('a flag overrides its variable, and a bad flag value is named too', async () => {
    const run = await cli(['status', '--amqp-prefix', 'bad prefix!'], {});
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('AMQP_PREFIX');
  });

  it('config prints every setting by the variable that sets it, secrets redacted', async () => {
    const run = await cli(['config'], {
      AMQP_URL: 'amqp://user:hunter2@broker:5672',
      DEST_S3_SECRET_ACCESS_KEY: 'hunter2',
      WORKER_CONCURRENCY: '4',
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^ +WORKER_CONCURRENCY +4$/m);
    expect(run.stdout).toMatch(/^ +AMQP_URL +amqp:\/\/user:\*\*\*@broker:5672$/m);
    expect(run.stdout).toMatch(/^ +DEST_S3_SECRET_ACCESS_KEY +\*\*\*$/m);
    expect(run.stdout).toMatch(/^ +MAX_ATTEMPTS +8 +\(default\)$/m);
    expect(run.stdout).not.toContain('hunter2');
    // Not the compiled configuration's names.
    expect(run.stdout).not.toMatch(/concurrency|prefetch|"amqp"/);
  });

  it('config --json prints the effective configuration with secrets redacted', async () => {
    const run = await cli(['--json', 'config'], {
      AMQP_URL: 'amqp://user:hunter2@broker:5672,amqp://user:hunter3@broker-2:5672',
      DEST_S3_SECRET_ACCESS_KEY: 'hunter2',
      DEST_BUCKET: 'backup-{bucket}',
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toContain('hunter2');
    expect(run.stdout).not.toContain('hunter3');
    const config = json<{ dest: { bucket: string }; amqp: { urls: string[] } }>(run);
    expect(config.dest.bucket).toBe('backup-{bucket}');
    expect(config.amqp.urls).toEqual([
      'amqp://user:***@broker:5672',
      'amqp://user:***@broker-2:5672',
    ]);
  });
});

describe('janitor', () => {
  let s3: TestS3;
  let proxy: S3Proxy;

  async function startBackup(): Promise<Record<string, string>> {
    s3 = await startS3Server({ buckets: ['backup'] });
    proxy = await startS3Proxy({ endpoint: s3.endpoint });
    cleanups.push(
      () => s3.close(),
      () => proxy.close(),
    );
    return {
      ...s3Env('DEST', proxy.endpoint),
      DEST_BUCKET: 'backup',
      DEST_PREFIX: 'mirror/',
      SOURCE_BUCKETS: 'source',
    };
  }

  async function openUpload(key: string): Promise<string> {
    const client = createTestS3Client(proxy.endpoint);
    try {
      const upload = await client.send(
        new CreateMultipartUploadCommand({ Bucket: 'backup', Key: key }),
      );
      return upload.UploadId ?? '';
    } finally {
      client.destroy();
    }
  }

  interface JanitorJson {
    bucket: string;
    open: number;
    dryRun: boolean;
    aborted: { key: string; uploadId: string }[];
  }

  it('aborts open multipart uploads older than the threshold and leaves fresh ones', async () => {
    const env = await startBackup();
    const old = await openUpload('mirror/killed worker 😀.bin');
    const outside = await openUpload('elsewhere/not ours.bin');
    const fresh = await openUpload('mirror/in progress.bin');
    // Left an hour ago by a killed worker, and outside the prefix.
    for (const upload of proxy.multipartUploads) {
      if (upload.uploadId !== fresh) upload.initiatedAt = new Date(Date.now() - 3_600_000);
    }
    const state = () =>
      Object.fromEntries(proxy.multipartUploads.map((u) => [u.uploadId, u.state]));

    const dry = await cli(['--json', 'janitor', '--older-than', '10m', '--dry-run'], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(json<JanitorJson>(dry)).toMatchObject({
      bucket: 'backup',
      open: 2,
      dryRun: true,
      aborted: [{ key: 'mirror/killed worker 😀.bin', uploadId: old }],
    });
    expect(state()).toEqual({ [old]: 'open', [outside]: 'open', [fresh]: 'open' });

    const run = await cli(['--json', 'janitor', '--older-than', '10m'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(json<JanitorJson>(run)).toMatchObject({
      open: 2,
      dryRun: false,
      aborted: [{ key: 'mirror/killed worker 😀.bin', uploadId: old }],
    });
    expect(state()).toEqual({ [old]: 'aborted', [outside]: 'open', [fresh]: 'open' });

    const human = await cli(['janitor', '--older-than', '10m'], env);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('backup: 1 open multipart uploads, aborted 0');
  });

  it('tells a store without ListMultipartUploads (exit 1) from an unreachable one (exit 3)', async () => {
    await startBackup();
    // s3rver itself answers 501 NotImplemented: reachable, but lacking the operation.
    const direct = {
      ...s3Env('DEST', s3.endpoint),
      DEST_BUCKET: 'backup',
      SOURCE_BUCKETS: 'source',
    };
    const lacking = await cli(['janitor'], direct);
    expect(lacking.code, lacking.stderr).toBe(1);
    expect(lacking.stderr).toContain('NotImplemented');
    const closed = { ...direct, DEST_S3_ENDPOINT: `http://127.0.0.1:${await freePort()}` };
    const unreachable = await cli(['janitor'], closed);
    expect(unreachable.code, unreachable.stderr).toBe(3);
  });

  it('asks for --bucket when DEST_BUCKET depends on the source bucket', async () => {
    const env = { ...(await startBackup()), DEST_BUCKET: '{bucket}-copy' };
    const run = await cli(['janitor'], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--bucket');
  });
});
