import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Bytes read from sources between two collections of the young generation. A 1 GiB copy makes
 * 256 of them, of 0.1 to 0.5 ms each (about 2 % of the copy's CPU).
 */
export const RECLAIM_EVERY_BYTES = 4 * 1024 * 1024;

/**
 * Frees the socket buffers of copied source bodies in step with the copy.
 *
 * Every read from a socket is a fresh 64 KiB buffer, garbage as soon as its bytes are in a part
 * buffer or written to the backup. Its memory lives outside V8's heap, and the few hundred bytes
 * of its JavaScript object hardly advance the young generation towards its next collection, so
 * V8 frees these buffers only when their total passes its external-memory limit (64 MiB). A
 * streaming copy therefore carried up to 64 MiB of dead buffers on top of the parts it holds,
 * past any honest memory bound (a 1 GiB copy peaked at 226 MiB on Node 24 with 40 MiB of parts,
 * 165 MiB with this). A young-generation collection every {@link RECLAIM_EVERY_BYTES} read,
 * whichever copies read them, frees them while they are still young.
 */
export class BufferReclaimer {
  readonly #everyBytes: number;
  readonly #collect: () => void;
  #sinceCollection = 0;

  constructor(options: { everyBytes?: number; collect?: () => void } = {}) {
    this.#everyBytes = options.everyBytes ?? RECLAIM_EVERY_BYTES;
    this.#collect = options.collect ?? youngGenerationCollector();
  }

  /** Counts bytes a source body delivered; collects once enough have passed. */
  readonly received = (bytes: number): void => {
    this.#sinceCollection += bytes;
    if (this.#sinceCollection < this.#everyBytes) return;
    this.#sinceCollection = 0;
    this.#collect();
  };
}

let collector: (() => void) | undefined;

/**
 * V8's collection of the young generation (a scavenge), without starting Node with
 * `--expose-gc`: the flag set at run time exposes `gc` to contexts created afterwards.
 */
function youngGenerationCollector(): () => void {
  if (collector === undefined) {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (options: { type: 'minor' }) => void;
    collector = () => gc({ type: 'minor' });
  }
  return collector;
}
