/** Where a command writes: results to stdout, progress and diagnostics to stderr. */
export interface Output {
  /** True when `--json` was given: one JSON document on stdout, no decoration. */
  readonly json: boolean;
  /** True when stderr is a terminal (progress bars are drawn only then). */
  readonly interactive: boolean;
  /** Writes a line of human output (nothing in JSON mode). */
  line(text?: string): void;
  /** Writes the command's result: JSON in JSON mode, else nothing (the command printed lines). */
  result(value: unknown): void;
  /** A diagnostic on stderr, in both modes. */
  warn(text: string): void;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export function createOutput(options: {
  json: boolean;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
}): Output {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  return {
    json: options.json,
    interactive: stderr.isTTY === true && !options.json,
    stdout,
    stderr,
    line(text = '') {
      if (!options.json) stdout.write(`${printableLines(text)}\n`);
    },
    result(value) {
      if (options.json) stdout.write(`${jsonForTerminals(value)}\n`);
    },
    warn(text) {
      stderr.write(`${printableLines(text)}\n`);
    },
  };
}

/**
 * Characters a terminal must not receive from data: C0 and C1 controls and DEL (ESC starts
 * sequences that retitle the window or clear the screen, BEL rings, CR and LF fake lines), the
 * Unicode line and paragraph separators, and the bidirectional overrides that make text read
 * differently from what it is.
 */
const UNSAFE = /[\p{Cc}\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

const NAMED_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text from outside (keys, bucket names, error messages) as it may be shown on a terminal: every
 * unsafe character written as an escape (`\n`, `\x1b`, `\u202e`). Backslashes are left alone,
 * so escaping twice changes nothing; `--json` output is exact.
 */
export function printable(text: string): string {
  return text.replace(UNSAFE, (char) => {
    const named = NAMED_ESCAPES[char];
    if (named !== undefined) return named;
    const code = char.codePointAt(0) ?? 0;
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Multi-line text (a table, a message) with every line printable and the line breaks kept. */
export function printableLines(text: string): string {
  return text.split('\n').map(printable).join('\n');
}

/**
 * JSON whose strings carry every unsafe character as a `\u` escape. JSON.stringify escapes C0
 * controls itself (any left are its own indentation) but leaves DEL, C1 and the rest raw.
 */
function jsonForTerminals(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(UNSAFE, (char) => {
    const code = char.codePointAt(0) ?? 0;
    return code < 0x20 ? char : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Formats rows as an aligned text table; cells are {@link printable}, so one row is one line. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = rows.map((row) => row.map(printable));
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...cells.map((row) => (row[column] ?? '').length)),
  );
  const format = (row: readonly string[]) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [
    format(headers),
    format(widths.map((width) => '-'.repeat(width))),
    ...cells.map(format),
  ].join('\n');
}
