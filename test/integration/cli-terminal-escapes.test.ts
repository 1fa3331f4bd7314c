/**
 * Terminal escape injection through the operator's tools: keys carrying ESC/OSC/BEL sequences
 * (retitle the window, clear the screen), a C1 CSI, a carriage return, a bidirectional override
 * and a newline that would fake a table row reach `dlq list`, `dlq replay --dry-run`,
 * `resync --dry-run`, `verify` and `janitor --dry-run` through real RabbitMQ and s3rver. The
 * human output shows every one escaped, one row per key; `--json` keeps the keys exact.
 */
import { CreateMultipartUploadCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { publishToQueue } from '../helpers/rabbit.js';
import { startS3Proxy } from '../helpers/s3-proxy.js';
import { createTestS3Client, putObject, s3Env } from '../helpers/s3.js';
import {
  BACKUP_BUCKET,
  SOURCE_BUCKET,
  eventTask,
  startWorkerBed,
  type WorkerBed,
} from '../support/worker-bed.js';
import { cli, json, type CliRun } from '../support/cli-run.js';
import { declareQueues } from '../support/declare-queues.js';

/** Each hostile key and how the table must show it. */
const HOSTILE: readonly { key: string; shown: string }[] = [
  { key: 'title\x1b]0;pwned\x07.txt', shown: 'title\\x1b]0;pwned\\x07.txt' },
  { key: 'clear\x1b[2J\x1b[H.txt', shown: 'clear\\x1b[2J\\x1b[H.txt' },
  { key: 'row\nFAKE-ID  evil  fake.txt', shown: 'row\\nFAKE-ID  evil  fake.txt' },
  { key: 'c1\u009b31m.txt', shown: 'c1\\x9b31m.txt' },
  { key: 'cr\rover.txt', shown: 'cr\\rover.txt' },
  { key: 'bidi\u202etxt.exe', shown: 'bidi\\u202etxt.exe' },
];
const KEYS = HOSTILE.map((entry) => entry.key);
/** XML turns a CR into a LF, so keys listed from S3 cannot carry one. */
const S3_KEYS = KEYS.filter((key) => !key.includes('\r'));

/** What no terminal may receive from data; newlines are checked by counting rows instead. */
const UNSAFE = /[^\P{Cc}\n]|[\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

let bed: WorkerBed;
let env: Record<string, string>;

beforeEach(async () => {
  bed = await startWorkerBed({ label: 'cli-escapes' });
  env = bed.env();
});

afterEach(async () => {
  await bed.close();
});

/** Asserts the run printed no unsafe character and a table row per hostile key, escaped. */
function expectEscapedTable(run: CliRun, header: RegExp, keys = KEYS): void {
  const output = run.stdout + run.stderr;
  expect(output).not.toMatch(UNSAFE);
  const lines = run.stdout.split('\n');
  const start = lines.findIndex((line) => header.test(line));
  expect(start, run.stdout).toBeGreaterThanOrEqual(0);
  // Header, dashes, then one line per key and nothing that looks like a row of its own.
  const rows = lines.slice(start + 2).filter((line) => line.trim() !== '');
  for (const { shown } of HOSTILE.filter((entry) => keys.includes(entry.key))) {
    expect(
      rows.filter((row) => row.includes(shown)),
      shown,
    ).toHaveLength(1);
  }
  expect(rows.filter((row) => row.startsWith('FAKE-ID'))).toEqual([]);
}

describe('hostile keys in human output', () => {
  it('dlq list and dlq replay --dry-run print them escaped, --json exact', async () => {
    await declareQueues(env);
    const tasks = KEYS.map((key) => eventTask(key, 'created'));
    await publishToQueue(
      bed.url,
      bed.names.dlq,
      tasks.map((task) => ({
        content: JSON.stringify(task),
        options: {
          messageId: task.id,
          contentType: 'application/json',
          headers: {
            'x-s3relay-error-code': 'RELAY_S3_ACCESS_DENIED',
            // Error messages name the key too.
            'x-s3relay-error': `denied: ${task.key}`,
            'x-s3relay-attempts': 8,
          },
        },
      })),
    );
    const list = await cli(['dlq', 'list'], env);
    expect(list.code, list.stderr).toBe(0);
    expectEscapedTable(list, /^ID\s+BUCKET\s+KEY/);
    expect(list.stdout).toContain('denied: title\\x1b]0;pwned\\x07.txt');

    const replay = await cli(['dlq', 'replay', '--all', '--dry-run'], env);
    expect(replay.code, replay.stderr).toBe(0);
    expectEscapedTable(replay, /^ID\s+BUCKET\s+KEY/);

    const listed = await cli(['--json', 'dlq', 'list'], env);
    expect(listed.stdout).not.toMatch(UNSAFE);
    const entries = json<{ entries: { task: { key: string } }[] }>(listed).entries;
    expect(entries.map((entry) => entry.task.key).sort()).toEqual([...KEYS].sort());
  });

  it('resync --dry-run and verify print them escaped', async () => {
    await Promise.all(S3_KEYS.map((key) => putObject(bed.source.client, SOURCE_BUCKET, key, 'x')));
    const resync = await cli(['resync', '--bucket', SOURCE_BUCKET, '--dry-run'], env);
    expect(resync.code, resync.stderr).toBe(0);
    expectEscapedTable(resync, /^STATUS\s+KEY/, S3_KEYS);

    const verify = await cli(['verify', '--bucket', SOURCE_BUCKET], env);
    expect(verify.code).toBe(1);
    expectEscapedTable(verify, /^STATUS\s+REASON\s+KEY/, S3_KEYS);

    const verified = await cli(['--json', 'verify', '--bucket', SOURCE_BUCKET], env);
    const differences = json<{ differences: { key: string }[] }>(verified).differences;
    expect(differences.map((d) => d.key).sort()).toEqual([...S3_KEYS].sort());
  });

  it('janitor --dry-run prints them escaped', async () => {
    // s3rver lists no multipart uploads; the proxy in front of it does.
    const proxy = await startS3Proxy({ endpoint: bed.backup.endpoint });
    try {
      const client = createTestS3Client(proxy.endpoint);
      for (const key of S3_KEYS) {
        await client.send(
          new CreateMultipartUploadCommand({ Bucket: BACKUP_BUCKET, Key: bed.backupKey(key) }),
        );
      }
      client.destroy();
      const janitor = await cli(['janitor', '--older-than', '0s', '--dry-run'], {
        ...env,
        ...s3Env('DEST', proxy.endpoint),
      });
      expect(janitor.code, janitor.stderr).toBe(0);
      expectEscapedTable(janitor, /^KEY\s+UPLOAD ID/, S3_KEYS);
    } finally {
      await proxy.close();
    }
  });
});
