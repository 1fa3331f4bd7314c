import { randomBytes } from 'node:crypto';
import { DeleteObjectCommand, DeleteObjectsCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '@s3relay/emulator';
import {
  deleteQueuesWithPrefix,
  eventually,
  freePort,
  getObjectBytes,
  listAllKeys,
  putObject,
  rabbitUrl,
  sha256,
  startS3Server,
  uniquePrefix,
  type TestS3,
} from '../helpers/index.js';
import { spawnCli, type CliProcess } from './cli-process.js';

const SOURCE = 'myfiles-ash';
const BACKUP = 'myfiles-backup';

/** Every key of a bucket with the SHA-256 of its bytes. */
async function snapshot(client: S3Client, bucket: string): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  for (const key of await listAllKeys(client, bucket)) {
    const bytes = await getObjectBytes(client, bucket, key);
    if (bytes !== undefined) result.set(key, sha256(bytes));
  }
  return result;
}

describe('the built services with the VK emulator as the source', () => {
  let emulator: Emulator;
  let backup: TestS3;
  let source: S3Client;
  let ingress: CliProcess;
  const workers: CliProcess[] = [];
  const prefix = uniquePrefix('e2e');
  let ingressPort: number;
  let env: NodeJS.ProcessEnv;

  const startIngress = async () => {
    ingress = spawnCli(['ingress'], env);
    await eventually(
      async () => {
        expect(ingress.child.exitCode, ingress.output()).toBeNull();
        expect((await fetch(`http://127.0.0.1:${ingressPort}/readyz`)).status).toBe(200);
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  };

  const expectBackupEqualsSource = () =>
    eventually(
      async () => {
        const [want, have] = await Promise.all([
          snapshot(source, SOURCE),
          snapshot(backup.client, BACKUP),
        ]);
        expect(have).toEqual(want);
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );

  beforeAll(async () => {
    // Short retry delays, so that the emulator's redeliveries after the outage come quickly.
    emulator = await startEmulator({
      buckets: [SOURCE],
      delivery: { initialDelayMs: 200, maxDelayMs: 1000 },
    });
    backup = await startS3Server({ buckets: [BACKUP] });
    source = new S3Client({
      endpoint: emulator.endpoint,
      region: emulator.region,
      forcePathStyle: true,
      credentials: emulator.credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    ingressPort = await freePort();
    env = {
      ...process.env,
      AMQP_URL: rabbitUrl(),
      AMQP_PREFIX: prefix,
      HTTP_PORT: String(ingressPort),
      HTTP_METRICS_PORT: '0',
      PUBLIC_URLS: `http://127.0.0.1:${ingressPort}/webhook/mcs`,
      SOURCE_S3_ENDPOINT: emulator.endpoint,
      SOURCE_S3_REGION: emulator.region,
      SOURCE_S3_ACCESS_KEY_ID: emulator.credentials.accessKeyId,
      SOURCE_S3_SECRET_ACCESS_KEY: emulator.credentials.secretAccessKey,
      ...backup.env('DEST'),
      SOURCE_BUCKETS: SOURCE,
      DEST_BUCKET: BACKUP,
      PART_SIZE_MB: '5',
      LOG_LEVEL: 'warn',
    };
    await startIngress();
    for (let index = 0; index < 2; index += 1) {
      const worker = spawnCli(['worker'], { ...env, METRICS_PORT: String(await freePort()) });
      workers.push(worker);
    }
    await emulator.registerWebhook(SOURCE, `http://127.0.0.1:${ingressPort}/webhook/mcs`);
  });

  afterAll(async () => {
    await Promise.all([ingress, ...workers].map((child) => child?.stop('SIGKILL')));
    source?.destroy();
    await emulator?.close();
    await backup?.close();
    await deleteQueuesWithPrefix(rabbitUrl(), prefix);
  });

  it('registers, replicates 20 objects (one multipart, awkward keys) and 5 deletes', async () => {
    expect(emulator.webhooks(SOURCE).length).toBeGreaterThan(0);
    const keys = Array.from(
      { length: 19 },
      (_, index) =>
        [
          `plain-${index}.txt`,
          `with space ${index}.txt`,
          `фото/отпуск ${index}.jpg`,
          `a+b%c ${index} (copy).bin`,
          `deep/dir/ünïcödé-${index}-☃.dat`,
        ][index % 5] ?? '',
    );
    for (const [index, key] of keys.entries()) {
      await putObject(source, SOURCE, key, randomBytes(100 + index * 37));
    }
    await new Upload({
      client: source,
      params: {
        Bucket: SOURCE,
        Key: 'big/multipart object.bin',
        Body: randomBytes(12 * 1024 * 1024),
      },
      partSize: 5 * 1024 * 1024,
    }).done();
    for (const key of keys.slice(0, 4)) {
      await source.send(new DeleteObjectCommand({ Bucket: SOURCE, Key: key }));
    }
    await source.send(
      new DeleteObjectsCommand({ Bucket: SOURCE, Delete: { Objects: [{ Key: keys[4] }] } }),
    );

    await expectBackupEqualsSource();
    const backupKeys = await listAllKeys(backup.client, BACKUP);
    expect(backupKeys).toHaveLength(15);
    expect(backupKeys).toContain('big/multipart object.bin');
    expect(backupKeys).toContain('фото/отпуск 7.jpg');
  });

  it('delivers what happened while the ingress was down through the emulator retries', async () => {
    await ingress.stop('SIGTERM');
    const before = emulator.stats();
    for (let index = 0; index < 5; index += 1) {
      await putObject(source, SOURCE, `during outage/${index}.txt`, randomBytes(64));
    }
    await source.send(new DeleteObjectCommand({ Bucket: SOURCE, Key: 'plain-5.txt' }));
    await source.send(new DeleteObjectCommand({ Bucket: SOURCE, Key: 'with space 6.txt' }));
    // The emulator is retrying against a closed port now.
    await eventually(() => expect(emulator.stats().retried).toBeGreaterThan(before.retried), {
      timeoutMs: 10_000,
    });

    await startIngress();
    await expectBackupEqualsSource();
    const after = emulator.stats();
    expect(after.dropped).toBe(0);
    expect(await listAllKeys(backup.client, BACKUP)).toEqual(
      expect.arrayContaining(['during outage/0.txt', 'during outage/4.txt']),
    );
    for (const worker of workers) expect(worker.child.exitCode, worker.output()).toBeNull();
  });
});
