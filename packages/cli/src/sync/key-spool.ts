import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';

/**
 * Keys set aside on disk while a listing is compared, to be acted on once the whole listing has
 * been seen (resync decides whether extras may be deleted only at the end). Memory stays bounded
 * for buckets of any size; keys may hold any character, newlines included (one JSON string a
 * line). The file is deleted by {@link KeySpool.close}.
 */
export class KeySpool {
  readonly #directory: string;
  readonly #path: string;
  readonly #writer: WriteStream;
  #count = 0;

  private constructor(directory: string) {
    this.#directory = directory;
    this.#path = join(directory, 'keys.jsonl');
    this.#writer = createWriteStream(this.#path);
  }

  static async create(): Promise<KeySpool> {
    return new KeySpool(await mkdtemp(join(tmpdir(), 's3relay-keys-')));
  }

  get count(): number {
    return this.#count;
  }

  async add(key: string): Promise<void> {
    this.#count += 1;
    if (!this.#writer.write(`${JSON.stringify(key)}\n`)) await once(this.#writer, 'drain');
  }

  /** Every key added, in order; call once, after the last {@link add}. */
  async *keys(): AsyncGenerator<string> {
    this.#writer.end();
    await once(this.#writer, 'finish');
    const lines = createInterface({ input: createReadStream(this.#path), crlfDelay: Infinity });
    for await (const line of lines) yield JSON.parse(line) as string;
  }

  async close(): Promise<void> {
    if (!this.#writer.writableEnded) this.#writer.end();
    await finished(this.#writer).catch(() => undefined);
    await rm(this.#directory, { recursive: true, force: true });
  }
}
