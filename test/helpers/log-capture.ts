import { PassThrough } from 'node:stream';
import { createLogger, type Logger } from '@s3relay/core';

/** A JSON logger at debug level whose lines a test reads back. */
export interface CapturedLog {
  readonly logger: Logger;
  /** Every line so far, parsed. */
  readonly lines: () => Record<string, unknown>[];
  /** The lines whose `message` is `message`. */
  readonly withMessage: (message: string) => Record<string, unknown>[];
  /** Everything written so far, as text (to check that no secret appears). */
  readonly text: () => string;
}

/** A logger writing the real JSON format into memory, for assertions on what was logged. */
export function captureLog(service = 'test'): CapturedLog {
  const raw: string[] = [];
  const stream = new PassThrough();
  stream.setEncoding('utf8').on('data', (chunk: string) => {
    raw.push(...chunk.split('\n').filter((line) => line !== ''));
  });
  const lines = () => raw.map((line) => JSON.parse(line) as Record<string, unknown>);
  return {
    logger: createLogger({ level: 'debug', format: 'json', service, stream }),
    lines,
    withMessage: (message) => lines().filter((line) => line.message === message),
    text: () => raw.join('\n'),
  };
}
