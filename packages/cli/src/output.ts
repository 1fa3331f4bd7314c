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
      if (!options.json) stdout.write(`${text}\n`);
    },
    result(value) {
      if (options.json) stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
    warn(text) {
      stderr.write(`${text}\n`);
    },
  };
}

/** Formats rows as an aligned text table. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const format = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [
    format(headers),
    format(widths.map((width) => '-'.repeat(width))),
    ...rows.map(format),
  ].join('\n');
}
