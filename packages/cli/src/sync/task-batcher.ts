import type { Task } from '@s3relay/core';
import type { Publisher } from '@s3relay/core/amqp';

/**
 * Publishes tasks in confirmed batches: far fewer round trips than one confirm per task, and at
 * most `batchSize` tasks held in memory.
 */
export class TaskBatcher {
  #buffer: Task[] = [];
  #published = 0;
  readonly #publisher: Publisher;
  readonly #queue: string;
  readonly #batchSize: number;

  constructor(publisher: Publisher, queue: string, batchSize = 250) {
    this.#publisher = publisher;
    this.#queue = queue;
    this.#batchSize = batchSize;
  }

  get published(): number {
    return this.#published;
  }

  async add(task: Task): Promise<void> {
    this.#buffer.push(task);
    if (this.#buffer.length >= this.#batchSize) await this.flush();
  }

  async flush(): Promise<void> {
    const batch = this.#buffer;
    if (batch.length === 0) return;
    this.#buffer = [];
    await this.#publisher.publish(
      batch.map((task) => ({
        queue: this.#queue,
        body: Buffer.from(JSON.stringify(task)),
        messageId: task.id,
      })),
    );
    this.#published += batch.length;
  }
}
