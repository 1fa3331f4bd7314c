import type { Config } from '@s3relay/core';
import { Publisher, type Broker } from '@s3relay/core/amqp';
import { confirm } from './confirm.js';
import type { Output } from './output.js';

/** Asks on the terminal before something that cannot be undone; `--yes` skips the question. */
export async function confirmed(
  out: Output,
  question: string,
  yes: boolean | undefined,
): Promise<boolean> {
  if (yes === true) return true;
  if (await confirm(`${question} This cannot be undone.`, 'refusing')) return true;
  out.warn('nothing changed');
  return false;
}

/**
 * Runs `work` with a confirming publisher: listing republishes what it keeps, replaying what it
 * moves (see walkQueue).
 */
export async function withPublisher<T>(
  config: Config,
  broker: Broker,
  work: (publisher: Publisher) => Promise<T>,
): Promise<T> {
  const publisher = new Publisher(broker, {
    timeoutMs: config.amqp.publishTimeoutMs,
    maxInFlight: 1000,
  });
  try {
    return await work(publisher);
  } finally {
    await publisher.close();
  }
}
