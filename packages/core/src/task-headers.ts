/**
 * The message headers s3relay owns (docs/ARCHITECTURE.md, "Topology"). The system counts attempts
 * itself and never trusts `x-death`, which a publisher can forge on RabbitMQ 3.x.
 */
export const TaskHeaders = {
  /** The attempt a delivery is, 1-based; absent on a task's first delivery. */
  attempt: 'x-s3relay-attempt',
  /** On a parked task: the stable code of the last failure. */
  errorCode: 'x-s3relay-error-code',
  /** On a parked task: the last failure's message. */
  error: 'x-s3relay-error',
  /** On a parked task: how many attempts were made. */
  attempts: 'x-s3relay-attempts',
  firstFailedAt: 'x-s3relay-first-failed-at',
  lastFailedAt: 'x-s3relay-last-failed-at',
  /** On a task `s3relay dlq replay` moved back: when, and the code it had been parked with. */
  replayedAt: 'x-s3relay-replayed-at',
  replayedErrorCode: 'x-s3relay-replayed-error-code',
  /** On a held delete: the code of why it was held (RELAY_DELETE_LIMIT_REACHED). */
  heldCode: 'x-s3relay-held-code',
  /** On a held delete: why it was held, for the operator. */
  heldReason: 'x-s3relay-held-reason',
  heldAt: 'x-s3relay-held-at',
  /** On a task `s3relay held release` moved back to the tasks queue: when. */
  releasedAt: 'x-s3relay-released-at',
} as const;
