/**
 * Where a logger's lines go: every line written during one turn of the event loop leaves in one
 * write. A write to stdout is a system call (synchronous for files and pipes on Linux), and a
 * busy ingress or worker logs a line per webhook or task, many per turn.
 */
export class LineSink {
  readonly #stream: NodeJS.WritableStream;
  #pending: string[] = [];
  #scheduled = false;

  constructor(stream: NodeJS.WritableStream) {
    this.#stream = stream;
    if (stream === process.stdout || stream === process.stderr) flushAtExit(this);
  }

  write(line: string): void {
    this.#pending.push(line);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.flush);
  }

  /** Writes the pending lines now. */
  readonly flush = (): void => {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const text = this.#pending.join('');
    this.#pending = [];
    this.#stream.write(text);
  };
}

const flushedAtExit = new Set<LineSink>();

/**
 * Lines still pending when the process exits (process.exit, an uncaught exception) are written
 * by the `exit` event, synchronously: stdout is synchronous for files, pipes and terminals.
 */
function flushAtExit(sink: LineSink): void {
  if (flushedAtExit.size === 0) {
    process.once('exit', () => {
      for (const each of flushedAtExit) each.flush();
    });
  }
  flushedAtExit.add(sink);
}
