import { PassThrough } from 'node:stream';
import { createLogger, type Config } from '@s3relay/core';
import { createWorker, type Worker } from '@s3relay/worker';

/** In-process workers whose JSON log lines are kept for the test to read. */
export class LoggedWorkers {
  readonly #workers: Worker[] = [];
  readonly #lines: string[] = [];

  /** Starts a worker with `config`; it is closed by {@link LoggedWorkers.close}. */
  async start(config: Config): Promise<Worker> {
    const stream = new PassThrough();
    stream.setEncoding('utf8').on('data', (chunk: string) => {
      this.#lines.push(...chunk.split('\n').filter((line) => line !== ''));
    });
    const worker = createWorker({
      config,
      logger: createLogger({ level: 'debug', format: 'json', service: 'worker', stream }),
    });
    this.#workers.push(worker);
    await worker.start();
    return worker;
  }

  /** Every log line of every worker, parsed. */
  logs(): Record<string, unknown>[] {
    return this.#lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#workers.map((worker) => worker.close()));
  }
}
