import { TransientError } from '@s3relay/core';
import type { OutgoingMessage } from '@s3relay/core/amqp';
import type { IngressPublisher } from '@s3relay/ingress';

/**
 * The ingress's publishing port in memory, for unit tests of the webhook pipeline: what it
 * "confirms" is in `published`. It behaves as the core Publisher where the pipeline can tell:
 * it rejects at once when not ready, and a publish can be held to stand for a slow confirm.
 */
export class MemoryPublisher implements IngressPublisher {
  isReady = true;
  readonly published: OutgoingMessage[] = [];
  /** When set, publishes reject with it (once released, if held): a nack, a timeout, a bug. */
  failure: Error | undefined;
  calls = 0;
  /** While set, publishes wait for it: their records stay in flight. */
  #held: Promise<void> | undefined;

  async publish(messages: readonly OutgoingMessage[]): Promise<void> {
    this.calls += 1;
    // As the core Publisher: fail fast when it cannot publish now.
    if (!this.isReady) throw new TransientError('RELAY_AMQP_UNAVAILABLE', 'not connected');
    await this.#held;
    if (this.failure !== undefined) throw this.failure;
    this.published.push(...messages);
  }

  /** Holds every publish until the returned function is called (confirms that are slow). */
  hold(): () => void {
    let release: () => void = () => undefined;
    this.#held = new Promise<void>((resolve) => (release = resolve));
    return () => {
      this.#held = undefined;
      release();
    };
  }
}
