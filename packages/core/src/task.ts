import { createHash } from 'node:crypto';
import { z } from 'zod';
import { bucketNameProblem } from './bucket-name.js';

/** Where a task came from: a webhook source, or one of s3relay's own producers. */
export const TASK_ORIGINS = [
  'mcs',
  'sns',
  'minio',
  'ceph',
  's3',
  'resync',
  'replay',
  'recheck',
] as const;
export type TaskOrigin = (typeof TASK_ORIGINS)[number];

/** Webhook sources the ingress understands (a subset of {@link TASK_ORIGINS}). */
export const WEBHOOK_SOURCES = ['mcs', 'sns', 'minio', 'ceph', 's3'] as const;
export type WebhookSource = (typeof WEBHOOK_SOURCES)[number];

export const TASK_KINDS = ['created', 'removed', 'other'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

/** S3 limits a key to 1,024 bytes of UTF-8. */
export const MAX_KEY_BYTES = 1024;

/**
 * The task message (v1), the contract between the ingress (and the cli) and the workers.
 * A task is a hint that a key may have changed; the worker reconciles the key either way.
 */
export const TaskSchema = z.strictObject({
  v: z.literal(1),
  id: z.string().regex(/^[0-9a-f]{32}$/, 'a 32-digit lowercase hex id'),
  origin: z.enum(TASK_ORIGINS),
  kind: z.enum(TASK_KINDS),
  eventName: z.string().max(256),
  // A task not from the ingress (a forged or hand-made message) gets the same check.
  bucket: z.string().superRefine((bucket, ctx) => {
    const problem = bucketNameProblem(bucket);
    if (problem !== undefined) {
      ctx.addIssue({ code: 'custom', message: `not an S3 bucket name: it ${problem}` });
    }
  }),
  key: z
    .string()
    .min(1)
    .refine(
      (key) => Buffer.byteLength(key, 'utf8') <= MAX_KEY_BYTES,
      'at most 1024 bytes of UTF-8',
    ),
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).nullable(),
  eTag: z.string().max(256).nullable(),
  versionId: z.string().max(1024).nullable(),
  sequencer: z.string().max(256).nullable(),
  eventTime: z.string().max(64).nullable(),
  receivedAt: z.string().max(64),
});

export type Task = z.infer<typeof TaskSchema>;

/** The fields that identify an event; the id is their hash. */
export type TaskIdentity = Pick<
  Task,
  'origin' | 'bucket' | 'key' | 'versionId' | 'sequencer' | 'eTag' | 'eventName'
>;

/**
 * The deterministic task id: the same event delivered twice gets the same id, so duplicates can
 * be recognised downstream. It hashes source, bucket, key, versionId, sequencer (or eTag when the
 * source sends no sequencer) and the event name.
 */
export function taskId(identity: TaskIdentity): string {
  const parts = [
    identity.origin,
    identity.bucket,
    identity.key,
    identity.versionId ?? '',
    identity.sequencer ?? identity.eTag ?? '',
    identity.eventName,
  ];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}

/** Classifies an event name (without the `s3:` prefix) into the kind the worker logs. */
export function kindOf(eventName: string): TaskKind {
  if (/^ObjectCreated:/i.test(eventName) || /^ObjectSynced:Create/i.test(eventName))
    return 'created';
  if (
    /^ObjectRemoved:/i.test(eventName) ||
    /^LifecycleExpiration:/i.test(eventName) ||
    /^ObjectLifecycle:Expiration/i.test(eventName) ||
    /^ObjectSynced:Delet/i.test(eventName)
  ) {
    return 'removed';
  }
  return 'other';
}

/**
 * The event name of a resync task for a key whose backup bytes differ from the source's while its
 * provenance metadata matches (found by comparing content, `resync --deep`). The worker copies
 * such a key without comparing first: the metadata, its usual proof of an up-to-date backup, is
 * what cannot be trusted here. Carried in `eventName` rather than a new field so that workers of
 * an earlier release still accept the task (the schema is strict) and simply reconcile it.
 */
export const RECOPY_EVENT_NAME = 'Resync:recopy';

/** True for a task that must be copied even when the backup's metadata says it is up to date. */
export function isRecopy(task: Pick<Task, 'origin' | 'eventName'>): boolean {
  return task.origin === 'resync' && task.eventName === RECOPY_EVENT_NAME;
}

export type TaskInput = Omit<Task, 'v' | 'id' | 'kind' | 'receivedAt'> & {
  readonly kind?: TaskKind;
  readonly receivedAt?: string;
};

/**
 * Builds a task from its fields, deriving `id` and (unless given) `kind`. Producers that are not
 * webhooks (`resync`, `replay`, `recheck`) pass a unique `sequencer` so that their tasks are not
 * mistaken for duplicates of each other.
 */
export function createTask(input: TaskInput, now: Date = new Date()): Task {
  return {
    v: 1,
    id: taskId(input),
    origin: input.origin,
    kind: input.kind ?? kindOf(input.eventName),
    eventName: input.eventName,
    bucket: input.bucket,
    key: input.key,
    size: input.size,
    eTag: input.eTag,
    versionId: input.versionId,
    sequencer: input.sequencer,
    eventTime: input.eventTime,
    receivedAt: input.receivedAt ?? now.toISOString(),
  };
}

/** The outcome of validating a message body against {@link TaskSchema}. */
export type ParsedTask = { ok: true; task: Task } | { ok: false; reason: string };

/** Validates a raw message body; never throws. */
export function parseTask(body: Buffer | string): ParsedTask {
  let json: unknown;
  try {
    json = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    return { ok: false, reason: 'message body is not JSON' };
  }
  const result = TaskSchema.safeParse(json);
  if (!result.success) return { ok: false, reason: z.prettifyError(result.error) };
  return { ok: true, task: result.data };
}
