import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { TransientError } from './errors.js';
import { createLogger, summarizeError } from './logger.js';

function capture(format: 'json' | 'pretty') {
  const stream = new PassThrough();
  const lines: string[] = [];
  stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
  return { logger: createLogger({ level: 'debug', format, service: 'test', stream }), lines };
}

describe('createLogger', () => {
  it('writes one JSON object per line with the service and child metadata', async () => {
    const { logger, lines } = capture('json');
    logger.child({ bucket: 'b' }).info('object copied', { key: 'k' });
    await new Promise((resolve) => setImmediate(resolve));
    const entry = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    expect(entry).toMatchObject({
      level: 'info',
      message: 'object copied',
      service: 'test',
      bucket: 'b',
      key: 'k',
    });
    expect(typeof entry.timestamp).toBe('string');
  });

  it('serialises errors with their code and cause chain', async () => {
    const { logger, lines } = capture('json');
    const root = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const err = new TransientError('RELAY_S3_NETWORK', 'GetObject failed', {
      cause: root,
      context: { key: 'k' },
    });
    logger.error('copy failed', { error: err });
    await new Promise((resolve) => setImmediate(resolve));
    const entry = JSON.parse(lines[0] ?? '{}') as {
      message: string;
      error: Record<string, unknown>;
    };
    expect(entry.message).toBe('copy failed');
    expect(entry.error).toMatchObject({
      name: 'TransientError',
      message: 'GetObject failed',
      code: 'RELAY_S3_NETWORK',
      context: { key: 'k' },
      cause: { message: 'socket hang up', code: 'ECONNRESET' },
    });
  });

  it('summarises an expected failure without stack traces, keeping code and cause', () => {
    const root = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const err = new TransientError('RELAY_S3_NETWORK', 'GetObject failed', { cause: root });
    const summary = summarizeError(err);
    expect(summary).toMatchObject({
      code: 'RELAY_S3_NETWORK',
      message: 'GetObject failed',
      cause: { code: 'ECONNRESET', message: 'socket hang up' },
    });
    expect(JSON.stringify(summary)).not.toContain('stack');
  });

  it('colours the pretty format only when asked', async () => {
    const written = async (color: boolean | undefined) => {
      const stream = new PassThrough();
      const chunks: string[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
      const logger = createLogger({ level: 'info', format: 'pretty', service: 't', stream, color });
      logger.warn('hello');
      await new Promise((resolve) => setImmediate(resolve));
      return chunks.join('');
    };
    expect(await written(true)).toContain('\x1b[');
    expect(await written(false)).not.toContain('\x1b[');
    expect(await written(undefined)).not.toContain('\x1b[');
  });

  it('respects the level', async () => {
    const stream = new PassThrough();
    const lines: string[] = [];
    stream.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
    const logger = createLogger({ level: 'warn', format: 'pretty', service: 'test', stream });
    logger.info('hidden');
    logger.warn('shown');
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.join('')).toContain('shown');
    expect(lines.join('')).not.toContain('hidden');
  });

  it('writes the lines of one turn of the event loop in one write, in order', async () => {
    const writes: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        writes.push(chunk.toString());
        callback();
      },
    });
    const logger = createLogger({
      level: 'info',
      format: 'json',
      service: 'test',
      stream,
      batched: true,
    });
    for (const n of [1, 2, 3]) logger.info('task done', { n });
    expect(writes).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toHaveLength(1);
    const lines = (writes[0] ?? '').split('\n').filter(Boolean);
    expect(lines.map((line) => (JSON.parse(line) as { n: number }).n)).toEqual([1, 2, 3]);
  });

  it('neither reads nor formats a line below its level', async () => {
    for (const format of ['json', 'pretty'] as const) {
      const stream = new PassThrough();
      const written: string[] = [];
      stream.on('data', (chunk: Buffer) => written.push(chunk.toString()));
      const logger = createLogger({ level: 'info', format, service: 'test', stream });
      let read = false;
      const meta = {
        get detail() {
          read = true;
          return 'x';
        },
      };
      logger.child({ taskId: 't' }).debug('backup is up to date', meta);
      await new Promise((resolve) => setImmediate(resolve));
      expect(read).toBe(false);
      expect(written).toEqual([]);
    }
  });

  it("lets a child's fields, then the call's, override the service's", async () => {
    const { logger, lines } = capture('json');
    logger.child({ service: 'worker', key: 'a' }).info('task done', { key: 'b' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ service: 'worker', key: 'b' });
  });
});
