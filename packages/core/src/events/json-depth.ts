const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/**
 * The deepest nesting of arrays and objects a webhook body may have. Every webhook format nests
 * about six levels; JSON.parse spends seconds of CPU, during which the ingress answers nothing,
 * not even its probes, on megabytes of `[`.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * True when `text` nests arrays and objects deeper than `maxDepth` — decided without parsing, in
 * one pass that stops at the first level too deep and skips strings (brackets inside them do not
 * count). Text that is not JSON gives an answer too; JSON.parse refuses it afterwards.
 */
export function nestsDeeperThan(text: string, maxDepth: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i += 1) {
    const char = text.charCodeAt(i);
    if (char === QUOTE) {
      i = closingQuote(text, i);
      if (i < 0) return false;
    } else if (char === OPEN_ARRAY || char === OPEN_OBJECT) {
      depth += 1;
      if (depth > maxDepth) return true;
    } else if (char === CLOSE_ARRAY || char === CLOSE_OBJECT) {
      depth -= 1;
    }
  }
  return false;
}

/** The index of the quote that closes the string opened at `open`, or -1 when none does. */
function closingQuote(text: string, open: number): number {
  let at = open;
  for (;;) {
    // indexOf runs natively: most of a webhook body is inside strings.
    at = text.indexOf('"', at + 1);
    if (at < 0) return -1;
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return at;
  }
}
