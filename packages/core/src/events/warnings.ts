/** At most this many warnings are kept per request; the rest are counted. */
export const MAX_WARNINGS = 20;

/**
 * The warnings of one request. Capped so that a 10,000-record body with a flaw in every record
 * yields a readable handful of lines (and a count) instead of 10,000 log lines.
 */
export class Warnings {
  readonly #messages: string[] = [];
  #omitted = 0;

  add(message: string): void {
    if (this.#messages.length < MAX_WARNINGS) this.#messages.push(message);
    else this.#omitted += 1;
  }

  /** The kept warnings, followed by a line counting the omitted ones if any were dropped. */
  list(): string[] {
    if (this.#omitted === 0) return [...this.#messages];
    return [...this.#messages, `${this.#omitted} more warnings omitted`];
  }
}
