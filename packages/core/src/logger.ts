import winston from 'winston';

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
}

/** Creates the winston logger of a service: JSON (one object a line), or pretty for people. */
export function createLogger(options: LoggerOptions): Logger {
  const format =
    options.format === 'json'
      ? winston.format.combine(serializeErrors(), winston.format.timestamp(), winston.format.json())
      : winston.format.combine(
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
  return winston.createLogger({
    level: options.level,
    format,
    defaultMeta: { service: options.service },
    transports: [transport],
  });
}

/** A logger that drops everything, for tests and library callers that pass none. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
