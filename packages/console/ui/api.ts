import type { ErrorResponse, JobView } from '../src/api-types.js';

/** A refusal or failure of the console's API, with its code and the sentence to show. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function parse<T>(response: Response): Promise<T> {
  if (response.status === 401) {
    window.location.assign('/login');
    throw new ApiError(401, 'login_required', 'log in first');
  }
  const body = (await response.json().catch(() => undefined)) as unknown;
  if (!response.ok) {
    const error = body as Partial<ErrorResponse> | undefined;
    throw new ApiError(
      response.status,
      error?.error ?? 'http_error',
      error?.message ?? `the console answered ${response.status}`,
    );
  }
  return body as T;
}

export async function getJson<T>(path: string): Promise<T> {
  return parse<T>(await fetch(path, { headers: { accept: 'application/json' } }));
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  return parse<T>(
    await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    }),
  );
}

/**
 * Starts an operation and waits for it, reporting its progress; resolves with its result and
 * rejects with its error.
 */
export async function runJob<T>(
  path: string,
  body: unknown,
  onProgress: (progress: Readonly<Record<string, number>>) => void = () => undefined,
): Promise<{ job: JobView; result: T }> {
  let job = await postJson<JobView>(path, body);
  while (job.state === 'running') {
    onProgress(job.progress);
    await new Promise((resolve) => setTimeout(resolve, 300));
    job = await getJson<JobView>(`/api/jobs/${job.id}`);
  }
  if (job.state === 'failed') throw new ApiError(500, 'job_failed', job.error ?? 'failed');
  return { job, result: job.result as T };
}
