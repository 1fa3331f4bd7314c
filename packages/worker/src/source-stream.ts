import { Readable } from 'node:stream';
import { TransientError, type ErrorContext } from '@s3relay/core';

export interface SourceStreamOptions {
  /** The Content-Length of the source response: anything else fails the stream. */
  readonly expectedLength: number;
  /** Fail when the source sends nothing for this long while data is wanted. */
  readonly idleTimeoutMs: number;
  readonly context?: ErrorContext;
  /** Told the size of every chunk the source delivers. */
  readonly onReceived?: (bytes: number) => void;
}

/**
 * Wraps a source object's body on its way to the backup and makes two promises about it:
 *
 * - it ends only after exactly `expectedLength` bytes; a shorter or longer body fails it before
 *   its end reaches the upload, so neither a single PUT nor a multipart upload can complete with
 *   a truncated object;
 * - it fails with `RELAY_COPY_STALLED` when the source sends nothing for `idleTimeoutMs` while
 *   the upload is waiting for data. The clock only runs while data is wanted: a backup that is
 *   slower than the source pauses the stream without counting as a stall.
 *
 * Destroying it destroys the source body (and so releases its socket).
 */
export class SourceStream extends Readable {
  readonly #source: Readable;
  readonly #options: SourceStreamOptions;
  #received = 0;
  #ended = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(source: Readable, options: SourceStreamOptions) {
    super({ highWaterMark: 64 * 1024 });
    this.#source = source;
    this.#options = options;
    source.on('data', this.#onData);
    source.once('end', this.#onEnd);
    // `on`, not `once`: a body can report a second error while it is torn down.
    source.on('error', this.#onError);
    source.once('close', this.#onClose);
    // Nothing flows until the consumer asks for it (_read).
    source.pause();
  }

  /** Bytes received from the source so far. */
  get bytesRead(): number {
    return this.#received;
  }

  override _read(): void {
    this.#arm();
    this.#source.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#disarm();
    this.#source.off('data', this.#onData);
    this.#source.destroy();
    callback(error);
  }

  readonly #onData = (chunk: Buffer): void => {
    if (this.destroyed) return;
    this.#disarm();
    this.#received += chunk.length;
    this.#options.onReceived?.(chunk.length);
    if (this.#received > this.#options.expectedLength) {
      this.destroy(this.#lengthError());
      return;
    }
    if (this.push(chunk)) this.#arm();
    else this.#source.pause();
  };

  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#disarm();
    if (this.destroyed) return;
    if (this.#received !== this.#options.expectedLength) this.destroy(this.#lengthError());
    else this.push(null);
  };

  readonly #onError = (error: Error): void => {
    this.destroy(error);
  };

  readonly #onClose = (): void => {
    if (this.#ended || this.destroyed) return;
    this.destroy(
      new TransientError('RELAY_S3_NETWORK', 'the source body closed before its end', {
        context: this.#options.context,
      }),
    );
  };

  #arm(): void {
    this.#disarm();
    this.#timer = setTimeout(() => {
      this.destroy(
        new TransientError(
          'RELAY_COPY_STALLED',
          `the source sent nothing for ${this.#options.idleTimeoutMs} ms ` +
            `(${this.#received} of ${this.#options.expectedLength} bytes read)`,
          { context: this.#options.context },
        ),
      );
    }, this.#options.idleTimeoutMs);
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #lengthError(): TransientError {
    return new TransientError(
      'RELAY_COPY_LENGTH_MISMATCH',
      `the source body did not match its Content-Length of ${this.#options.expectedLength} bytes ` +
        `(${this.#received} bytes read)`,
      { context: this.#options.context },
    );
  }
}
