import winston from 'winston';
import { LineSink } from './log-sink.js';

/** The logging port of s3relay: constant messages, variables in `meta`. */
export interface Logger {
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
  child(meta: Record<string, unknown>): Logger;
}

export interface SerializedError {
  name: string;
  message: string;
  code?: unknown;
  stack?: string;
  cause?: unknown;
  [field: string]: unknown;
}

/**
 * Turns an error into plain data, walking its `cause` chain (winston drops `cause` by itself).
 * Keeps the fields operators need to act: name, message, code, S3's `$metadata.httpStatusCode`.
 */
export function serializeError(err: unknown): unknown {
  return errorData(err, true, 0);
}

/**
 * {@link serializeError} without stack traces, for failures that are expected and handled (a
 * transient S3 error retried through the delay tiers): the code and message say all there is,
 * and a stack per retry would bury the lines that matter.
 */
export function summarizeError(err: unknown): unknown {
  return errorData(err, false, 0);
}

function errorData(err: unknown, withStack: boolean, depth: number): unknown {
  if (!(err instanceof Error)) return err;
  const record = err as Error & Record<string, unknown>;
  const out: SerializedError = { name: err.name, message: err.message };
  if (record.code !== undefined) out.code = record.code;
  const metadata = record.$metadata as { httpStatusCode?: number } | undefined;
  if (metadata?.httpStatusCode !== undefined) out.httpStatusCode = metadata.httpStatusCode;
  if (record.context !== undefined) out.context = record.context;
  if (withStack && err.stack !== undefined) out.stack = err.stack;
  if (err.cause !== undefined && depth < 5) {
    out.cause = errorData(err.cause, withStack, depth + 1);
  }
  return out;
}

/** Replaces every Error in log metadata with its serialisation. */
const serializeErrors = winston.format((info) => {
  for (const [field, value] of Object.entries(info)) {
    if (value instanceof Error) info[field] = serializeError(value);
  }
  return info;
});

export interface LoggerOptions {
  readonly level: 'error' | 'warn' | 'info' | 'debug';
  readonly format: 'json' | 'pretty';
  readonly service: string;
  /** Where to write; stdout unless a test wants the lines. */
  readonly stream?: NodeJS.WritableStream;
  /**
   * Colour the levels of the pretty format. Only for a terminal: in a file or a pipe the escape
   * codes are noise. The caller decides (core reads no environment). @default false
   */
  readonly color?: boolean;
  /**
   * JSON lines leave in one write per turn of the event loop (see {@link LineSink}).
   * @default true on stdout; false on a stream of the caller's, who reads each line back as it
   * is logged
   */
  readonly batched?: boolean;
}

type Level = LoggerOptions['level'];

/** Lower is more severe: a logger at `info` writes the levels up to 2. */
const RANK: Readonly<Record<Level, number>> = { error: 0, warn: 1, info: 2, debug: 3 };

/** Where logform's formats leave the finished line (triple-beam's MESSAGE). */
const MESSAGE = Symbol.for('message');

/**
 * Creates the logger of a service: JSON (one object a line) or pretty for people. A line below
 * the level costs one comparison. JSON lines are winston's (the same formats build them) without
 * winston's stream pipeline, and on stdout leave through a {@link LineSink}, a write per turn of
 * the event loop: a busy ingress logs a line per webhook.
 */
export function createLogger(options: LoggerOptions): Logger {
  const threshold = RANK[options.level];
  if (options.format === 'json') {
    const stream = options.stream ?? process.stdout;
    const format = winston.format.combine(
      serializeErrors(),
      winston.format.timestamp(),
      winston.format.json(),
    );
    const batched = options.batched ?? options.stream === undefined;
    const sink = batched ? new LineSink(stream) : stream;
    const toLine = (fields: Record<string, unknown>): string => {
      const info = format.transform(fields as winston.Logform.TransformableInfo);
      return info === false ? '' : `${String((info as Record<symbol, unknown>)[MESSAGE])}\n`;
    };
    return jsonLogger({ service: options.service }, threshold, (fields) =>
      sink.write(toLine(fields)),
    );
  }
  const format = winston.format.combine(
    serializeErrors(),
    winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
    ...(options.color === true ? [winston.format.colorize()] : []),
    winston.format.printf(({ timestamp, level, message, service, ...meta }) => {
      const rest = Object.keys(meta).length > 0 ? ` ${JSON.stringify(meta)}` : '';
      return `${String(timestamp)} ${level} [${String(service)}] ${String(message)}${rest}`;
    }),
  );
  const transport =
    options.stream === undefined
      ? new winston.transports.Console({ stderrLevels: [] })
      : new winston.transports.Stream({ stream: options.stream });
  return leveled(
    winston.createLogger({
      level: options.level,
      format,
      defaultMeta: { service: options.service },
      transports: [transport],
    }),
    threshold,
  );
}

/**
 * A JSON logger: each line is `base` (the service, then every child's fields), the call's
 * metadata, the level and the message, as winston assembles them (a `message` in the metadata is
 * appended to the line's message).
 */
function jsonLogger(
  base: Record<string, unknown>,
  threshold: number,
  write: (fields: Record<string, unknown>) => void,
): Logger {
  const at =
    (level: Level) =>
    (message: string, meta?: Record<string, unknown>): void => {
      if (RANK[level] > threshold) return;
      const extra = meta?.message;
      write({
        ...base,
        ...meta,
        level,
        message:
          extra === undefined || extra === ''
            ? message
            : `${message} ${typeof extra === 'string' ? extra : JSON.stringify(extra)}`,
      });
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (meta) => jsonLogger({ ...base, ...meta }, threshold, write),
  };
}

/** `logger` behind a level check: winston builds and streams a line before its level drops it. */
function leveled(logger: Logger, threshold: number): Logger {
  const at = (level: Level) =>
    RANK[level] > threshold
      ? () => undefined
      : (message: string, meta?: Record<string, unknown>) => {
          if (meta === undefined) logger[level](message);
          else logger[level](message, meta);
        };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (meta) => leveled(logger.child(meta), threshold),
  };
}

/** A logger that drops everything, for tests and library callers that pass none. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
