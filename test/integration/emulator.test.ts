/**
 * The VK Cloud emulator against real HTTP: s3rver behind the emulator's front, the AWS SDK as the
 * S3 client, curl as a user would register a webhook, and a tiny webhook receiver on loopback that
 * answers VK's handshake with `vkSignature`.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { vkSignature } from '@s3relay/core';
import {
  startEmulator,
  type Emulator,
  type EmulatorOptions,
  type VkEventRecord,
  type VkSubscriptionConfirmation,
} from '@s3relay/emulator';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';

const BUCKET = 'source';
const execFileAsync = promisify(execFile);

/** How consumers decode AWS-style (and, assumed, VK) event keys. */
const decodeKey = (key: string) => decodeURIComponent(key.replace(/\+/g, ' '));

type HandshakeMode = 'sign' | 'wrong-signature' | 'error-500' | 'hang';

/** A webhook receiver on 127.0.0.1 that answers VK's handshake and records what it gets. */
class Receiver {
  readonly confirmations: {
    headers: http.IncomingHttpHeaders;
    rawHeaderNames: string[];
    body: VkSubscriptionConfirmation;
  }[] = [];
  readonly posts: { headers: http.IncomingHttpHeaders; records: VkEventRecord[] }[] = [];
  handshake: HandshakeMode = 'sign';
  /** The status for the n-th event POST (1-based). */
  eventStatus: (n: number) => number = () => 200;
  #server: http.Server;
  #port = 0;

  private constructor() {
    this.#server = this.#create();
  }

  static async start(): Promise<Receiver> {
    const receiver = new Receiver();
    await receiver.#listen(0);
    return receiver;
  }

  /** The URL as registered: the handshake signature covers it byte for byte. */
  get url(): string {
    return `http://127.0.0.1:${this.#port}/hooks/vk?token=s3cr3t`;
  }

  /** Every record received, in arrival order. */
  get records(): VkEventRecord[] {
    return this.posts.flatMap((post) => post.records);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  /** Listens again on the same port (a receiver coming back after an outage). */
  async restart(): Promise<void> {
    this.#server = this.#create();
    await this.#listen(this.#port);
  }

  #create(): http.Server {
    return http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as
          | VkSubscriptionConfirmation
          | { Records: VkEventRecord[] };
        if ('Type' in body) {
          const rawHeaderNames = req.rawHeaders.filter((_, index) => index % 2 === 0);
          this.confirmations.push({ headers: req.headers, rawHeaderNames, body });
          this.#answerHandshake(body, res);
          return;
        }
        this.posts.push({ headers: req.headers, records: body.Records });
        res.writeHead(this.eventStatus(this.posts.length)).end();
      });
    });
  }

  #answerHandshake(body: VkSubscriptionConfirmation, res: http.ServerResponse): void {
    const handshake = { token: body.Token, timestamp: body.Timestamp, topicArn: body.TopicArn };
    switch (this.handshake) {
      case 'sign':
      case 'wrong-signature': {
        // A receiver that signs the URL it reconstructs (trailing slash, no query) gets it wrong.
        const url = this.handshake === 'sign' ? this.url : `http://127.0.0.1:${this.#port}/`;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ signature: vkSignature(handshake, url) }));
        return;
      }
      case 'error-500':
        res.writeHead(500).end();
        return;
      case 'hang':
        return;
    }
  }

  #listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => {
        this.#port = (this.#server.address() as AddressInfo).port;
        resolve();
      });
    });
  }
}

const started: { close(): Promise<void> | void }[] = [];

async function setup(options: Partial<EmulatorOptions> = {}) {
  const receiver = await Receiver.start();
  started.push({ close: () => receiver.stop() });
  const emulator = await startEmulator({
    buckets: [BUCKET],
    ...options,
    delivery: { initialDelayMs: 50, maxDelayMs: 200, requestTimeoutMs: 2000, ...options.delivery },
  });
  started.push(emulator);
  const client = clientFor(emulator);
  started.push({ close: () => client.destroy() });
  return { receiver, emulator, client };
}

function clientFor(
  emulator: Emulator,
  overrides: Partial<ConstructorParameters<typeof S3Client>[0]> = {},
) {
  return new S3Client({
    endpoint: emulator.endpoint,
    region: emulator.region,
    forcePathStyle: true,
    credentials: emulator.credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...overrides,
  });
}

afterEach(async () => {
  const results = await Promise.allSettled(
    started.splice(0).map(async (resource) => resource.close()),
  );
  for (const result of results) if (result.status === 'rejected') throw result.reason;
});

/** `curl --aws-sigv4`, the way the README tells users to talk `?notification` to VK. */
async function curlSigned(
  emulator: Emulator,
  method: 'GET' | 'PUT',
  path: string,
  body?: string,
): Promise<{ status: number; body: string }> {
  const directory = await mkdtemp(join(tmpdir(), 's3relay-emulator-test-'));
  try {
    const file = join(directory, 'notification.xml');
    await writeFile(file, body ?? '');
    const sha256 = createHash('sha256')
      .update(body ?? '')
      .digest('hex');
    const { accessKeyId, secretAccessKey } = emulator.credentials;
    const args = [
      '--silent',
      '--show-error',
      '--aws-sigv4',
      `aws:amz:${emulator.region}:s3`,
      '--user',
      `${accessKeyId}:${secretAccessKey}`,
      '-H',
      `x-amz-content-sha256: ${sha256}`,
      '-X',
      method,
      ...(body === undefined
        ? []
        : ['-H', 'Content-Type: application/xml', '--data-binary', `@${file}`]),
      '--write-out',
      '\n%{http_code}',
      `${emulator.endpoint}${path}`,
    ];
    const { stdout } = await execFileAsync('curl', args);
    const newline = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(newline + 1)), body: stdout.slice(0, newline) };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

describe('emulator registration (PUT ?notification with the VK handshake)', () => {
  it('sends one SubscriptionConfirmation per event, VK-shaped, and stores the webhook', async () => {
    const { receiver, emulator } = await setup({ ownerId: 'mcs2883541269' });
    await emulator.registerWebhook(BUCKET, receiver.url, {
      events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:Delete'],
      prefix: 'photos/',
      suffix: '.png',
    });

    expect(receiver.confirmations.map(({ body }) => body.TopicArn).sort()).toEqual([
      `mcs2883541269|${BUCKET}|s3:ObjectCreated:*`,
      `mcs2883541269|${BUCKET}|s3:ObjectRemoved:Delete`,
    ]);
    for (const { headers, rawHeaderNames, body } of receiver.confirmations) {
      // Spelled as VK's documentation shows them.
      expect(rawHeaderNames).toEqual(
        expect.arrayContaining(['Content-Type', 'X-Amz-Sns-Message-Type']),
      );
      expect(headers['content-type']).toBe('application/json');
      expect(headers['x-amz-sns-message-type']).toBe('Notification');
      expect(Object.keys(body)).toEqual([
        'Timestamp',
        'Type',
        'Message',
        'TopicArn',
        'SignatureVersion',
        'Token',
      ]);
      expect(body.Type).toBe('SubscriptionConfirmation');
      expect(body.SignatureVersion).toBe(1);
      expect(body.Timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+03:00$/);
      expect(Math.abs(Date.parse(body.Timestamp) - Date.now())).toBeLessThan(60_000);
      expect(body.Token).toMatch(/^[A-Za-z0-9]{48}$/);
    }
    expect(emulator.webhooks(BUCKET)).toEqual([
      {
        id: '1',
        events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:Delete'],
        url: receiver.url,
        prefix: 'photos/',
        suffix: '.png',
      },
    ]);

    const stored = await curlSigned(emulator, 'GET', `/${BUCKET}?notification`);
    expect(stored.status).toBe(200);
    expect(stored.body).toContain('<SimpleTopicConfiguration><Id>1</Id>');
    expect(stored.body).toContain(`<Url>${receiver.url.replace('&', '&amp;')}</Url>`);
    expect(stored.body).toContain(
      '<Filter><S3Key><FilterRule><Name>Prefix</Name><Value>photos/</Value></FilterRule>' +
        '<FilterRule><Name>Suffix</Name><Value>.png</Value></FilterRule></S3Key></Filter>',
    );
  });

  it.each<[HandshakeMode, RegExp]>([
    [
      'wrong-signature',
      /Unable to validate the following destination configurations: .*the signature does not match/,
    ],
    ['error-500', /the URL answered HTTP 500/],
    ['hang', /the URL did not answer: no answer within 300 ms/],
  ])('refuses the PUT with InvalidArgument when the receiver answers %s', async (mode, message) => {
    const { receiver, emulator, client } = await setup({ delivery: { requestTimeoutMs: 300 } });
    receiver.handshake = mode;
    const refusal = emulator.registerWebhook(BUCKET, receiver.url);
    await expect(refusal).rejects.toMatchObject({
      name: 'InvalidArgument',
      message,
      $metadata: { httpStatusCode: 400 },
    });
    expect(receiver.confirmations.length).toBeGreaterThan(0);
    expect(emulator.webhooks(BUCKET)).toEqual([]);

    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'k', Body: 'x' }));
    await emulator.idle(5000);
    expect(receiver.posts).toEqual([]);
    expect(emulator.stats()).toEqual({
      queued: 0,
      delivered: 0,
      retried: 0,
      dropped: 0,
      inFlight: 0,
    });
  });

  it('refuses a URL nobody listens on, and a bucket that does not exist', async () => {
    const { receiver, emulator } = await setup();
    const url = receiver.url;
    await receiver.stop();
    await expect(emulator.registerWebhook(BUCKET, url)).rejects.toMatchObject({
      name: 'InvalidArgument',
      message: expect.stringMatching(/the URL did not answer: connect ECONNREFUSED/) as unknown,
    });
    await receiver.restart();
    await expect(emulator.registerWebhook('missing-bucket', url)).rejects.toMatchObject({
      name: 'NoSuchBucket',
    });
  });

  it('works with curl --aws-sigv4 and a raw XML body, as a user registers with VK', async () => {
    const { receiver, emulator } = await setup();
    const xml =
      '<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      `<SimpleTopicConfiguration><Id>backup</Id><Event>s3:ObjectCreated:*</Event><Url>${receiver.url.replace('&', '&amp;')}</Url></SimpleTopicConfiguration>` +
      '</NotificationConfiguration>';
    const registered = await curlSigned(emulator, 'PUT', `/${BUCKET}?notification`, xml);
    expect(registered).toEqual({ status: 200, body: '' });
    expect(emulator.webhooks(BUCKET)).toEqual([
      { id: 'backup', events: ['s3:ObjectCreated:*'], url: receiver.url },
    ]);

    const malformed = await curlSigned(emulator, 'PUT', `/${BUCKET}?notification`, '<Nope');
    expect(malformed.status).toBe(400);
    expect(malformed.body).toContain('<Code>MalformedXML</Code>');

    const cleared = await curlSigned(
      emulator,
      'PUT',
      `/${BUCKET}?notification`,
      '<NotificationConfiguration/>',
    );
    expect(cleared.status).toBe(200);
    expect(emulator.webhooks(BUCKET)).toEqual([]);
    expect((await curlSigned(emulator, 'GET', `/${BUCKET}?notification`)).body).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
        '<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></NotificationConfiguration>',
    );
  });
});

describe('emulator events', () => {
  it('pushes put, copy, multipart, delete and multi-delete in VK shape, keys form-encoded', async () => {
    const { receiver, emulator, client } = await setup();
    await emulator.registerWebhook(BUCKET, receiver.url);
    const key = 'dir/a b+c ж😀%.txt';

    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'hello' }));
    await client.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: 'copy of a+b.txt',
        CopySource: `${BUCKET}/${encodeURIComponent(key)}`,
      }),
    );
    const size = 12 * 1024 * 1024;
    await new Upload({
      client,
      params: { Bucket: BUCKET, Key: 'big/файл.bin', Body: Buffer.alloc(size, 7) },
      partSize: 5 * 1024 * 1024,
      queueSize: 2,
    }).done();
    const heads = await Promise.all(
      [key, 'copy of a+b.txt', 'big/файл.bin'].map((k) =>
        client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: k })),
      ),
    );
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    await client.send(
      new DeleteObjectsCommand({
        Bucket: BUCKET,
        Delete: {
          Objects: [{ Key: 'copy of a+b.txt' }, { Key: 'big/файл.bin' }, { Key: 'never existed' }],
        },
      }),
    );
    await emulator.idle(10_000);

    const records = receiver.records;
    expect(records.map((record) => [record.eventName, decodeKey(record.s3.object.key)])).toEqual([
      ['s3:ObjectCreated:Put', key],
      ['s3:ObjectCreated:Copy', 'copy of a+b.txt'],
      ['s3:ObjectCreated:CompleteMultipartUpload', 'big/файл.bin'],
      ['s3:ObjectRemoved:Delete', key],
      ['s3:ObjectRemoved:Delete', 'copy of a+b.txt'],
      ['s3:ObjectRemoved:Delete', 'big/файл.bin'],
      ['s3:ObjectRemoved:Delete', 'never existed'],
    ]);
    // Form encoding: space → "+", "+" → "%2B", "/" kept, UTF-8 bytes percent-encoded.
    expect(records[0]?.s3.object.key).toBe('dir/a+b%2Bc+%D0%B6%F0%9F%98%80%25.txt');
    expect(
      records.slice(0, 3).map((record) => [record.s3.object.size, record.s3.object.eTag]),
    ).toEqual([
      [5, heads[0]?.ETag?.replace(/"/g, '')],
      [5, heads[1]?.ETag?.replace(/"/g, '')],
      [size, heads[2]?.ETag?.replace(/"/g, '')],
    ]);
    for (const record of records.slice(3)) {
      expect(record.s3.object).not.toHaveProperty('size');
      expect(record.s3.object).not.toHaveProperty('eTag');
    }
    const sequencers = records.map((record) => record.s3.object.sequencer);
    expect(sequencers.every((value) => Number.isSafeInteger(value))).toBe(true);
    expect([...sequencers].sort((a, b) => a - b)).toEqual(sequencers);
    expect(new Set(sequencers).size).toBe(sequencers.length);
    for (const record of records) {
      expect(record).toMatchObject({
        eventVersion: '1.0',
        eventSource: 'aws:s3',
        awsRegion: 'ru-msk',
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        s3: {
          configurationId: '1',
          s3SchemaVersion: '1.0',
          bucket: {
            name: BUCKET,
            ownerIdentity: { principalId: expect.stringMatching(/^mcs\d+$/) as unknown },
          },
        },
      });
      expect(record).not.toHaveProperty('eventTime');
    }
    for (const { headers } of receiver.posts) {
      expect(headers['content-type']).toBe('application/json');
      expect(headers['x-amz-sns-message-type']).toBe('Notification');
    }
    expect(emulator.stats()).toEqual({
      queued: 0,
      delivered: 7,
      retried: 0,
      dropped: 0,
      inFlight: 0,
    });
  });

  it('sends each webhook only the events and keys its configuration selects', async () => {
    const { receiver, emulator, client } = await setup();
    const photos = await Receiver.start();
    started.push({ close: () => photos.stop() });
    await emulator.registerWebhook(BUCKET, receiver.url, { events: ['s3:ObjectRemoved:*'] });
    await emulator.registerWebhook(BUCKET, photos.url, {
      events: ['s3:ObjectCreated:Put'],
      prefix: 'photos/',
      suffix: '.png',
    });
    expect(emulator.webhooks(BUCKET).map(({ id }) => id)).toEqual(['1', '2']);

    for (const key of ['photos/a.png', 'photos/a.jpg', 'other/b.png']) {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x' }));
    }
    await client.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: 'photos/c.png',
        CopySource: `${BUCKET}/photos/a.png`,
      }),
    );
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'photos/a.png' }));
    await emulator.idle(10_000);

    expect(photos.records.map((r) => [r.eventName, r.s3.object.key, r.s3.configurationId])).toEqual(
      [['s3:ObjectCreated:Put', 'photos/a.png', '2']],
    );
    expect(
      receiver.records.map((r) => [r.eventName, r.s3.object.key, r.s3.configurationId]),
    ).toEqual([['s3:ObjectRemoved:Delete', 'photos/a.png', '1']]);
  });

  it('pushes a browser form upload (POST Object) as s3:ObjectCreated:Post', async () => {
    const { receiver, emulator } = await setup();
    await emulator.registerWebhook(BUCKET, receiver.url);
    const form = new FormData();
    form.append('key', 'form/a b.txt');
    form.append('file', new Blob(['posted']), 'a b.txt');
    const answer = await fetch(`${emulator.endpoint}/${BUCKET}`, { method: 'POST', body: form });
    expect(answer.status).toBe(204);
    await emulator.idle(5000);
    expect(receiver.records).toMatchObject([
      {
        eventName: 's3:ObjectCreated:Post',
        s3: {
          object: {
            key: 'form/a+b.txt',
            size: 6,
            eTag: createHash('md5').update('posted').digest('hex'),
          },
        },
      },
    ]);
  });

  it('answers AbortMultipartUpload (s3rver cannot) and then refuses the aborted upload', async () => {
    const { receiver, emulator, client } = await setup();
    await emulator.registerWebhook(BUCKET, receiver.url);
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'aborted' }),
    );
    const part = await client.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: 'aborted', UploadId, PartNumber: 1, Body: 'x' }),
    );
    await client.send(
      new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'aborted', UploadId }),
    );
    await expect(
      client.send(
        new CompleteMultipartUploadCommand({
          Bucket: BUCKET,
          Key: 'aborted',
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
        }),
      ),
    ).rejects.toMatchObject({ name: 'NoSuchUpload' });
    await emulator.idle(5000);
    expect(receiver.posts).toEqual([]);
  });

  it('lists open multipart uploads (s3rver cannot), page by page, and keeps them across a restart', async () => {
    const directory = await mkdtemp(join(tmpdir(), 's3relay-emulator-uploads-'));
    started.push({ close: () => rm(directory, { recursive: true, force: true }) });
    const first = await startEmulator({ buckets: [BUCKET], directory });
    const client = clientFor(first);
    const create = async (key: string) =>
      (await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key })))
        .UploadId ?? '';
    const [a, b, c] = [await create('k/a'), await create('k/b'), await create('other/c')];
    const done = await create('k/done');
    const part = await client.send(
      new UploadPartCommand({
        Bucket: BUCKET,
        Key: 'k/done',
        UploadId: done,
        PartNumber: 1,
        Body: 'x',
      }),
    );
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: 'k/done',
        UploadId: done,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    client.destroy();
    await first.close();

    const emulator = await startEmulator({ buckets: [BUCKET], directory });
    started.push(emulator);
    const again = clientFor(emulator);
    started.push({ close: () => again.destroy() });
    const all = await again.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
    expect(all.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([
      ['k/a', a],
      ['k/b', b],
      ['other/c', c],
    ]);
    expect(all.Uploads?.every((u) => u.Initiated instanceof Date)).toBe(true);
    const page = await again.send(
      new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: 'k/', MaxUploads: 1 }),
    );
    expect(page.Uploads?.map((u) => u.Key)).toEqual(['k/a']);
    expect(page.IsTruncated).toBe(true);
    const next = await again.send(
      new ListMultipartUploadsCommand({
        Bucket: BUCKET,
        Prefix: 'k/',
        KeyMarker: page.NextKeyMarker,
        UploadIdMarker: page.NextUploadIdMarker,
      }),
    );
    expect(next.Uploads?.map((u) => u.Key)).toEqual(['k/b']);
    expect(next.IsTruncated).toBe(false);

    await again.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'k/a', UploadId: a }));
    const after = await again.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
    expect(after.Uploads?.map((u) => u.UploadId)).toEqual([b, c]);
    await expect(
      again.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'k/a', UploadId: a })),
    ).rejects.toMatchObject({ name: 'NoSuchUpload' });
    await expect(
      again.send(new ListMultipartUploadsCommand({ Bucket: 'no-such-bucket' })),
    ).rejects.toMatchObject({ name: 'NoSuchBucket' });
  });

  it('lists with continuation tokens (s3rver needs OpenSSL legacy DES for them)', async () => {
    const { client } = await setup();
    for (const key of ['a', 'b', 'c']) {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }));
    }
    const first = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, MaxKeys: 2 }));
    expect(first.IsTruncated).toBe(true);
    const second = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: first.NextContinuationToken }),
    );
    expect([...(first.Contents ?? []), ...(second.Contents ?? [])].map((o) => o.Key)).toEqual([
      'a',
      'b',
      'c',
    ]);
  });

  it('refuses other credentials, and aws-chunked bodies it would store corrupted', async () => {
    const { emulator, client } = await setup();
    const stranger = clientFor(emulator, {
      credentials: { accessKeyId: 'OTHER', secretAccessKey: 'x' },
    });
    started.push({ close: () => stranger.destroy() });
    await expect(
      stranger.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'k', Body: 'x' })),
    ).rejects.toMatchObject({ name: 'InvalidAccessKeyId', $metadata: { httpStatusCode: 403 } });

    // The SDK's default (WHEN_SUPPORTED) streams a body of unknown length with a CRC32 trailer.
    const defaults = clientFor(emulator, {
      requestChecksumCalculation: 'WHEN_SUPPORTED',
      responseChecksumValidation: 'WHEN_SUPPORTED',
    });
    started.push({ close: () => defaults.destroy() });
    await expect(
      defaults.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: 'chunked',
          Body: Readable.from([Buffer.from('x')]),
          ContentLength: 1,
        }),
      ),
    ).rejects.toMatchObject({ name: 'NotImplemented', $metadata: { httpStatusCode: 501 } });
    await expect(
      client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'chunked' })),
    ).rejects.toMatchObject({
      name: 'NotFound',
    });
  });
});

describe('emulator delivery', () => {
  it('retries a receiver that answers 500 twice: the event arrives three times', async () => {
    const { receiver, emulator, client } = await setup();
    await emulator.registerWebhook(BUCKET, receiver.url);
    receiver.eventStatus = (n) => (n <= 2 ? 500 : 200);
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'retried', Body: 'x' }));
    await emulator.idle(10_000);
    expect(receiver.records.map((record) => record.s3.object.key)).toEqual([
      'retried',
      'retried',
      'retried',
    ]);
    expect(emulator.stats()).toEqual({
      queued: 0,
      delivered: 1,
      retried: 2,
      dropped: 0,
      inFlight: 0,
    });
    expect(emulator.deliveries().map(({ attempt, status }) => [attempt, status])).toEqual([
      [1, 500],
      [2, 500],
      [3, 200],
    ]);
  });

  it('keeps events while the receiver is down and delivers all of them when it is back', async () => {
    const { receiver, emulator, client } = await setup();
    await emulator.registerWebhook(BUCKET, receiver.url);
    await receiver.stop();

    const keys = Array.from({ length: 10 }, (_, i) => `outage/${i}`);
    const startedAt = Date.now();
    for (const key of keys) {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }));
    }
    // S3 operations do not wait for webhooks.
    expect(Date.now() - startedAt).toBeLessThan(5000);
    await eventually(() => expect(emulator.stats().retried).toBeGreaterThanOrEqual(keys.length));
    expect(emulator.stats().delivered).toBe(0);

    await receiver.restart();
    await emulator.idle(10_000);
    expect(new Set(receiver.records.map((record) => record.s3.object.key))).toEqual(new Set(keys));
    expect(emulator.stats()).toMatchObject({
      queued: 0,
      inFlight: 0,
      delivered: keys.length,
      dropped: 0,
    });
  });

  it('gives records up after maxAttempts and counts them as dropped', async () => {
    const { receiver, emulator, client } = await setup({ delivery: { maxAttempts: 2 } });
    await emulator.registerWebhook(BUCKET, receiver.url);
    receiver.eventStatus = () => 503;
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'doomed', Body: 'x' }));
    await emulator.idle(10_000);
    expect(receiver.posts).toHaveLength(2);
    expect(emulator.stats()).toEqual({
      queued: 0,
      delivered: 0,
      retried: 1,
      dropped: 1,
      inFlight: 0,
    });
  });

  it('sends every event twice with duplicateRate 1, records per POST with batchSize', async () => {
    const { receiver, emulator, client } = await setup({
      delivery: { duplicateRate: 1, batchSize: 10, concurrency: 1 },
    });
    await emulator.registerWebhook(BUCKET, receiver.url);
    await client.send(
      new DeleteObjectsCommand({
        Bucket: BUCKET,
        Delete: { Objects: ['a', 'b', 'c'].map((Key) => ({ Key })) },
      }),
    );
    await emulator.idle(10_000);
    expect(receiver.records.map((record) => record.s3.object.key).sort()).toEqual([
      'a',
      'a',
      'b',
      'b',
      'c',
      'c',
    ]);
    expect(receiver.posts.length).toBeLessThan(6);
    expect(emulator.stats().delivered).toBe(6);
  });

  it('delivers out of order with reorderWindowMs', async () => {
    // Each new record is held window × r; r falls by 0.1 per record, so later ones overtake.
    let draw = 1;
    const { receiver, emulator, client } = await setup({
      delivery: { reorderWindowMs: 3000, random: () => (draw -= 0.1) },
    });
    await emulator.registerWebhook(BUCKET, receiver.url);
    const keys = ['r0', 'r1', 'r2', 'r3', 'r4'];
    for (const key of keys) {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }));
    }
    await emulator.idle(10_000);
    const received = receiver.records;
    expect(received.map((record) => record.s3.object.key)).toEqual([...keys].reverse());
    const sequencers = received.map((record) => record.s3.object.sequencer);
    expect([...sequencers].sort((a, b) => b - a)).toEqual(sequencers);
  });
});

describe('emulator lifecycle', () => {
  it('stops retries and timers on close: a process using it exits on its own', async () => {
    // Receiver down, retries due in 10 s: only close() can let this process end earlier.
    const script = `
      import http from 'node:http';
      import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
      import { vkSignature } from '@s3relay/core';
      import { startEmulator } from '@s3relay/emulator';
      const receiver = http.createServer((req, res) => {
        let body = '';
        req.on('data', (chunk) => (body += chunk));
        req.on('end', () => {
          const c = JSON.parse(body);
          const url = 'http://127.0.0.1:' + receiver.address().port + '/hook';
          res.end(JSON.stringify({ signature: vkSignature({ token: c.Token, timestamp: c.Timestamp, topicArn: c.TopicArn }, url) }));
        });
      });
      await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      const emulator = await startEmulator({ buckets: ['bucket'], delivery: { initialDelayMs: 10000, maxDelayMs: 10000 } });
      await emulator.registerWebhook('bucket', 'http://127.0.0.1:' + receiver.address().port + '/hook');
      receiver.close();
      const client = new S3Client({ endpoint: emulator.endpoint, region: 'ru-msk', forcePathStyle: true,
        credentials: emulator.credentials, requestChecksumCalculation: 'WHEN_REQUIRED' });
      await client.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'k', Body: 'x' }));
      // Polls for the event: the first retry.
      while (emulator.stats().retried === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      client.destroy();
      await emulator.close();
      await emulator.close();
      process.stdout.write(JSON.stringify(emulator.stats()) + '\\n');
    `;
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', '--input-type=module', '--eval', script],
      { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const startedAt = Date.now();
    const exit = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    expect(exit, stderr).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ queued: 1, retried: 1, delivered: 0 });
    expect(Date.now() - startedAt).toBeLessThan(10_000);
  });
});
