import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type {
  DlqActionRequest,
  DlqActionResult,
  HeldSummary,
  ResyncRequest,
  ResyncResult,
} from './api-types.js';
import { toSelection, toView, type DlqView } from './dlq/dlq-view.js';
import { HttpError, readJson, sendJson } from './http/responses.js';
import { BusyError, type Jobs } from './jobs.js';
import type { ConsoleOperations, Progress } from './operations.js';
import { buildOverview } from './overview.js';
import type { QueueMonitor } from './queues/queue-monitor.js';
import type { TelemetryAggregator } from './telemetry/aggregator.js';

export interface ApiContext {
  readonly prefix: string;
  readonly broker: () => { connected: boolean; url: string };
  readonly operations: ConsoleOperations;
  readonly aggregator: TelemetryAggregator;
  readonly queues: QueueMonitor;
  readonly jobs: Jobs;
  readonly dlq: DlqView;
  readonly held: () => HeldSummary;
  readonly now: () => number;
  readonly startedAt: number;
}

/** How many matched entries an action's result lists for the confirmation. */
const ACTION_SAMPLE = 20;
/** A resync follows its dry run within this time, or the dry run must be repeated. */
const PREVIEW_VALID_MS = 3600_000;

const isoTime = z
  .string()
  .refine((value) => !Number.isNaN(Date.parse(value)), 'an ISO 8601 time')
  .optional();
const FilterSchema = z.object({
  bucket: z.string().min(1).optional(),
  errorCode: z.string().min(1).optional(),
  since: isoTime,
  until: isoTime,
});
const ActionSchema = z
  .object({
    ids: z.array(z.string().min(1)).max(10_000).optional(),
    all: z.boolean().optional(),
    filter: FilterSchema.optional(),
    dryRun: z.boolean(),
  })
  .refine(
    (request) => request.all === true || (request.ids !== undefined && request.ids.length > 0),
    'say which tasks: ids, or all (with an optional filter)',
  );
const ResyncSchema = z.object({
  bucket: z.string().trim().min(1).max(255),
  prefix: z.string().max(1024).optional(),
  dryRun: z.boolean(),
  preview: z.string().optional(),
});

/** Answers `/api/*`; false when the path is not an API route. */
export async function handleApi(
  context: ApiContext,
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
): Promise<boolean> {
  const { pathname } = url;
  const method = request.method ?? 'GET';
  if (method === 'GET' && pathname === '/api/overview') {
    sendJson(
      response,
      200,
      buildOverview({
        now: context.now(),
        since: context.startedAt,
        prefix: context.prefix,
        broker: context.broker(),
        aggregator: context.aggregator,
        queues: context.queues,
        held: context.held(),
      }),
    );
    return true;
  }
  if (method === 'GET' && pathname === '/api/dlq') {
    const filter = parse(FilterSchema, Object.fromEntries(url.searchParams));
    const offset = Math.max(0, Number(url.searchParams.get('offset') ?? 0) || 0);
    const limit = Math.min(500, Math.max(1, Number(url.searchParams.get('limit') ?? 100) || 100));
    const depth = context.queues.latest?.queues.find((queue) => queue.role === 'dlq')?.messages;
    sendJson(response, 200, context.dlq.list(filter, { offset, limit }, depth));
    return true;
  }
  const entry = /^\/api\/dlq\/entries\/(\d+)$/.exec(pathname);
  if (method === 'GET' && entry !== null) {
    const detail = context.dlq.entry(Number(entry[1]));
    if (detail === undefined) {
      throw new HttpError(404, 'not_found', 'no such entry in the last scan; rescan the DLQ');
    }
    sendJson(response, 200, detail);
    return true;
  }
  if (method === 'POST' && pathname === '/api/dlq/scan') {
    await readJson(request);
    startJob(context, response, 'dlq-scan', (progress) => context.dlq.scan(progress, context.now));
    return true;
  }
  const action = /^\/api\/dlq\/(replay|drop)$/.exec(pathname)?.[1] as 'replay' | 'drop' | undefined;
  if (method === 'POST' && action !== undefined) {
    const body = parse(ActionSchema, await readJson(request)) as DlqActionRequest;
    startJob(context, response, action === 'replay' ? 'dlq-replay' : 'dlq-drop', (progress) =>
      runDlqAction(context, action, body, progress),
    );
    return true;
  }
  if (method === 'POST' && pathname === '/api/resync') {
    const body = parse(ResyncSchema, await readJson(request)) as ResyncRequest;
    if (!body.dryRun) checkPreview(context, body);
    startJob(context, response, 'resync', (progress) =>
      context.operations.resync(
        { bucket: body.bucket, prefix: body.prefix ?? '', dryRun: body.dryRun },
        progress,
      ),
    );
    return true;
  }
  const job = /^\/api\/jobs\/([0-9a-f]+)$/.exec(pathname);
  if (method === 'GET' && job !== null) {
    const found = context.jobs.get(job[1] ?? '');
    if (found === undefined) throw new HttpError(404, 'not_found', 'no such job');
    sendJson(response, 200, found);
    return true;
  }
  if (method === 'GET' && pathname === '/api/held') {
    sendJson(response, 200, context.held());
    return true;
  }
  return false;
}

/** A replay or drop, then a fresh scan so the page shows what is left. */
async function runDlqAction(
  context: ApiContext,
  action: 'replay' | 'drop',
  request: DlqActionRequest,
  progress: Progress,
): Promise<DlqActionResult> {
  const selection = toSelection(request.filter ?? {}, request.ids);
  const { operations } = context;
  const walk =
    action === 'replay'
      ? await operations.replayDlq(selection, request.dryRun, progress)
      : await operations.dropDlq(selection, request.dryRun, progress);
  if (!request.dryRun) {
    await context.dlq.scan((counts) => progress({ ...counts, rescanning: 1 }), context.now);
    await context.queues.sampleNow();
  }
  return {
    action,
    dryRun: request.dryRun,
    scanned: walk.scanned,
    matched: walk.matched.length,
    sample: walk.matched.slice(0, ACTION_SAMPLE).map((entry, index) => toView(entry, index)),
  };
}

/** A real resync must follow a finished dry run of the same bucket and prefix. */
function checkPreview(context: ApiContext, request: ResyncRequest): void {
  const preview = request.preview === undefined ? undefined : context.jobs.get(request.preview);
  const result = preview?.result as ResyncResult | undefined;
  const matches =
    preview?.kind === 'resync' &&
    preview.state === 'done' &&
    result?.dryRun === true &&
    result.bucket === request.bucket &&
    result.prefix === (request.prefix ?? '') &&
    context.now() - (preview.finishedAt ?? 0) < PREVIEW_VALID_MS;
  if (!matches) {
    throw new HttpError(
      409,
      'preview_required',
      'run the dry run of this resync first (same bucket and prefix, within the hour)',
    );
  }
}

function startJob(
  context: ApiContext,
  response: ServerResponse,
  kind: Parameters<Jobs['start']>[0],
  work: (progress: Progress) => Promise<unknown>,
): void {
  try {
    sendJson(response, 202, context.jobs.start(kind, work));
  } catch (err) {
    if (err instanceof BusyError) throw new HttpError(409, 'busy', err.message);
    throw err;
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new HttpError(400, 'invalid', z.prettifyError(result.error));
  return result.data;
}
