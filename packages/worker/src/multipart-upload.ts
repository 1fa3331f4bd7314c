import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  type CompletedPart,
  type CreateMultipartUploadCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { TransientError, serializeError, type ErrorContext, type Logger } from '@s3relay/core';

/** S3 accepts at most this many parts in one upload. */
const MAX_PARTS = 10_000;

export interface MultipartUploadOptions {
  readonly client: S3Client;
  /** Bucket, key, content headers and metadata of the object to create. */
  readonly params: CreateMultipartUploadCommandInput & { Bucket: string; Key: string };
  /** The object's bytes; consumed exactly once. */
  readonly body: Readable;
  /** The object's size, known in advance (the source's Content-Length). */
  readonly size: number;
  readonly partSizeBytes: number;
  /** Parts uploaded at once. */
  readonly queueSize: number;
  /** Aborts the parts in flight; the upload is then aborted and the error rethrown. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly context?: ErrorContext;
}

/**
 * The part size for an object: the configured one, or larger when the object would need more
 * than S3's 10,000 parts.
 */
export function partSizeFor(size: number, configuredBytes: number): number {
  return Math.max(configuredBytes, Math.ceil(size / MAX_PARTS));
}

/**
 * Streams `body` into a multipart upload that is always either completed or aborted.
 *
 * Memory is bounded and allocated once per upload: `queueSize + 1` part buffers (the parts in
 * flight and the one being filled), refilled in turn. This replaces lib-storage's `Upload`, whose
 * chunker concatenates every part into a fresh buffer: those buffers outlive the young-generation
 * collections, so a long copy piled up to about 64 MiB of garbage (V8's external-memory slack)
 * on top of the parts in flight, and a 1 GiB copy went past 200 MiB of RSS. It also lets the
 * parts in flight be aborted with the task (`Upload` sends them without a signal), and the
 * upload is aborted only after every part has settled, so no part lands after the abort
 * (docs/ARCHITECTURE.md, "Why our own multipart uploader"; test/integration/multipart-contract.test.ts).
 */
export async function uploadMultipart(options: MultipartUploadOptions): Promise<void> {
  const { client, params, signal } = options;
  const { Bucket, Key } = params;
  const partSize = partSizeFor(options.size, options.partSizeBytes);
  // With WHEN_SUPPORTED the SDK adds a CRC32 to every part, which the upload must announce and
  // the completion must list.
  const checksum =
    (await client.config.requestChecksumCalculation()) === 'WHEN_SUPPORTED' ? 'CRC32' : undefined;
  // Not aborted with the task: an upload created by the server but cut off on its way back could
  // not be aborted (its id would be unknown). An abort meanwhile is seen below, and the upload
  // then aborted.
  const created = await client.send(
    new CreateMultipartUploadCommand({
      ...params,
      ...(checksum === undefined ? {} : { ChecksumAlgorithm: checksum }),
    }),
  );
  const uploadId = created.UploadId;
  if (uploadId === undefined) {
    throw new TransientError('RELAY_S3_UNEXPECTED', 'CreateMultipartUpload returned no UploadId', {
      context: options.context,
    });
  }

  const controller = new AbortController();
  const parts: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  const free: Buffer[] = [];
  let allocated = 0;
  /** The first failure: what the upload throws, never the aborts of the parts it caused. */
  let failure: { error: unknown } | undefined;
  const fail = (error: unknown) => {
    failure ??= { error };
    controller.abort(error);
  };
  // The caller's abort is a failure of its own (its reason is thrown), not the parts' AbortErrors.
  const onAbort = () => fail(signal.reason);
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  const throwIfFailed = () => {
    if (failure !== undefined) throw failure.error;
  };

  /** A free part buffer: a returned one, a new one up to the bound, or the next to come back. */
  const acquire = async (): Promise<Buffer> => {
    for (;;) {
      throwIfFailed();
      const buffer = free.pop();
      if (buffer !== undefined) return buffer;
      if (allocated < options.queueSize + 1) {
        allocated += 1;
        return Buffer.allocUnsafe(partSize);
      }
      await Promise.race(inFlight);
    }
  };

  let partNumber = 0;
  const send = async (buffer: Buffer, length: number): Promise<void> => {
    while (inFlight.size >= options.queueSize) {
      await Promise.race(inFlight);
      throwIfFailed();
    }
    partNumber += 1;
    const number = partNumber;
    const upload: Promise<void> = (async (): Promise<void> => {
      try {
        const result = await client.send(
          new UploadPartCommand({
            Bucket,
            Key,
            UploadId: uploadId,
            PartNumber: number,
            Body: buffer.subarray(0, length),
            ContentLength: length,
            ...(checksum === undefined ? {} : { ChecksumAlgorithm: checksum }),
          }),
          { abortSignal: controller.signal },
        );
        if (result.ETag === undefined) {
          throw new TransientError('RELAY_S3_UNEXPECTED', `part ${number} has no ETag`);
        }
        parts.push({
          PartNumber: number,
          ETag: result.ETag,
          ...(result.ChecksumCRC32 === undefined ? {} : { ChecksumCRC32: result.ChecksumCRC32 }),
        });
      } catch (err) {
        fail(err);
      } finally {
        free.push(buffer);
      }
    })();
    inFlight.add(upload);
    // Removed as soon as it settles, before anyone awaiting Promise.race(inFlight) resumes.
    void upload.then(() => inFlight.delete(upload));
  };

  try {
    let current: Buffer | undefined;
    let filled = 0;
    signal.throwIfAborted();
    for await (const chunk of options.body as AsyncIterable<Buffer>) {
      throwIfFailed();
      let offset = 0;
      while (offset < chunk.length) {
        current ??= await acquire();
        const copied = chunk.copy(current, filled, offset);
        filled += copied;
        offset += copied;
        if (filled === partSize) {
          await send(current, filled);
          current = undefined;
          filled = 0;
        }
      }
    }
    if (current !== undefined && filled > 0) await send(current, filled);
    await Promise.all(inFlight);
    throwIfFailed();
    parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    // Not aborted with the task: once every part is in, finishing beats starting over.
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
  } catch (err) {
    fail(err);
    await Promise.allSettled(inFlight);
    await abortUpload(options, uploadId);
    throw failure?.error ?? err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

async function abortUpload(options: MultipartUploadOptions, uploadId: string): Promise<void> {
  try {
    await options.client.send(
      new AbortMultipartUploadCommand({
        Bucket: options.params.Bucket,
        Key: options.params.Key,
        UploadId: uploadId,
      }),
    );
  } catch (err) {
    options.logger.warn('multipart upload not aborted; a lifecycle rule must remove its parts', {
      uploadId,
      error: serializeError(err),
    });
  }
}
