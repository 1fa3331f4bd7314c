import { PermanentError, TransientError } from '@s3relay/core';

/**
 * The records being published by all requests at once, bounded by HTTP_MAX_IN_FLIGHT. A request
 * takes room for all its records or none, so it is published whole or refused whole.
 */
export class RecordsInFlight {
  /** HTTP_MAX_IN_FLIGHT. */
  readonly limit: number;
  #count = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  /**
   * Takes room for `records`; give it back with {@link release}. Thrown as PermanentError
   * `RELAY_WEBHOOK_TOO_MANY_RECORDS` when they exceed the limit by themselves (no wait makes room
   * for them: a 503 would have the sender retry forever), and as TransientError
   * `RELAY_AMQP_OVERLOADED` when other requests hold the room they need.
   */
  take(records: number): void {
    if (records > this.limit) {
      throw new PermanentError(
        'RELAY_WEBHOOK_TOO_MANY_RECORDS',
        `the request has ${records} records, more than HTTP_MAX_IN_FLIGHT (${this.limit}) publishes at once; it can never be accepted`,
      );
    }
    if (this.#count + records > this.limit) {
      throw new TransientError(
        'RELAY_AMQP_OVERLOADED',
        `${this.#count} records are being published already (HTTP_MAX_IN_FLIGHT ${this.limit})`,
      );
    }
    this.#count += records;
  }

  release(records: number): void {
    this.#count -= records;
  }
}
