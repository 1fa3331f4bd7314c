import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { forEachPooled } from './pool.js';

/** Puts `keys` of `size` random bytes each (a fresh 1 KiB-ish body per key) into `bucket`. */
export async function seedSmallObjects(
  client: S3Client,
  bucket: string,
  keys: readonly string[],
  size: number,
  concurrency = 32,
): Promise<void> {
  await forEachPooled(keys, concurrency, async (key) => {
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: randomBytes(size),
        ContentType: 'application/octet-stream',
      }),
    );
  });
}

/**
 * Puts one object of `size` bytes, streamed (never held in memory whole): a random 1 MiB block
 * repeated, with the block number mixed in so that no two MiB are equal.
 */
export async function seedLargeObject(
  client: S3Client,
  bucket: string,
  key: string,
  size: number,
): Promise<void> {
  const block = randomBytes(1024 * 1024);
  function* body() {
    for (let offset = 0; offset < size; offset += block.length) {
      const chunk = Buffer.from(block.subarray(0, Math.min(block.length, size - offset)));
      chunk.writeUInt32BE(offset / block.length, 0);
      yield chunk;
    }
  }
  await client.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: Readable.from(body()),
      ContentLength: size,
      ContentType: 'application/octet-stream',
    }),
  );
}

/** `prefix` + zero-padded index, `count` of them. */
export function keyList(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, index) => `${prefix}${String(index).padStart(5, '0')}`);
}
