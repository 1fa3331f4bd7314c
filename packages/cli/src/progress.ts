import { printable, type Output } from './output.js';

/** Counters a long command reports while it runs. */
export type ProgressCounters = Readonly<Record<string, number | string>>;

export interface Progress {
  update(counters: ProgressCounters): void;
  done(counters: ProgressCounters): void;
}

/**
 * Progress of long work: a line redrawn in place on a terminal, a line every `intervalMs` when
 * stderr is a file or a pipe (so CI logs show it is alive), nothing in JSON mode.
 */
export function createProgress(output: Output, label: string, intervalMs = 5000): Progress {
  const started = Date.now();
  let lastDrawn = 0;
  const render = (counters: ProgressCounters) => {
    const seconds = (Date.now() - started) / 1000;
    const parts = Object.entries(counters).map(([name, value]) => `${name} ${value}`);
    return printable(`${label}: ${parts.join(', ')} (${seconds.toFixed(1)} s)`);
  };
  return {
    update(counters) {
      if (output.json) return;
      const now = Date.now();
      if (output.interactive) {
        if (now - lastDrawn < 100) return;
        output.stderr.write(`\r\x1b[2K${render(counters)}`);
      } else {
        if (now - lastDrawn < intervalMs) return;
        output.stderr.write(`${render(counters)}\n`);
      }
      lastDrawn = now;
    },
    done(counters) {
      if (output.json) return;
      output.stderr.write(`${output.interactive ? '\r\x1b[2K' : ''}${render(counters)}\n`);
    },
  };
}
