import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import {
  PermanentError,
  SCRIPT_BASE_ENV,
  TransientError,
  type Task,
  type TaskKind,
} from '@s3relay/core';
import type { TaskAction } from './action.js';
import type { DeletionCheck } from './deletion-check.js';

export interface ScriptActionOptions {
  /** Path of the executable (ACTION_SCRIPT). */
  readonly script: string;
  /** Time limit of one run (ACTION_SCRIPT_TIMEOUT_MS); the whole process group is killed then. */
  readonly timeoutMs: number;
  /** Asked before `delete` runs: is the object really gone from the source, may it be deleted? */
  readonly deletionCheck: DeletionCheck;
  /**
   * Names of variables of `environment` the script gets besides {@link SCRIPT_BASE_ENV}
   * (ACTION_SCRIPT_ENV); nothing else of it reaches the script.
   */
  readonly passEnv: readonly string[];
  /** The worker's environment, where the passed variables' values come from. */
  readonly environment: NodeJS.ProcessEnv;
}

const NOT_RUN = {
  'deletes-off': 'deletes are not replicated; script delete not run',
  'source-exists': 'the source object exists; script delete not run',
  held: 'DELETE_LIMIT reached: script delete held, not run',
} as const;

/** The verb the original server passed for each kind of event; `other` events ran nothing. */
const VERBS: Readonly<Record<TaskKind, 'copy' | 'delete' | undefined>> = {
  created: 'copy',
  removed: 'delete',
  other: undefined,
};

/** Output kept per stream for the log; a chatty script cannot fill the worker's memory. */
const MAX_OUTPUT_CHARS = 16 * 1024;
/** After SIGTERM on shutdown, how long a script has before SIGKILL. */
const TERMINATE_GRACE_MS = 2000;
/** After the script exits, how long its pipes may stay open before the worker stops reading. */
const CLOSE_GRACE_MS = 1000;

/**
 * The script action's startup check: thrown as `RELAY_CONFIG_INVALID` when ACTION_SCRIPT does not
 * exist or is not executable, since every task would fail.
 */
export async function assertExecutable(script: string): Promise<void> {
  try {
    await access(script, constants.X_OK);
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new PermanentError(
      'RELAY_CONFIG_INVALID',
      `ACTION_SCRIPT=${script}: ${missing ? 'no such file' : 'not executable (chmod +x it)'}`,
      { cause: err },
    );
  }
}

/**
 * ACTION=script: runs `<script> <bucket> <key> copy|delete` per task, the contract of the
 * original server, now queued and retried. The task is in the script's environment too (see
 * {@link taskVariables}), so a script need not take apart arguments that may start with `-`;
 * of the worker's environment it gets only {@link SCRIPT_BASE_ENV} and what ACTION_SCRIPT_ENV
 * lists, never the broker URL or the S3 keys. Exit 0 is done; a non-zero exit, a signal or the time
 * limit is a transient failure (retried through the tiers, then dead-lettered). The arguments
 * are an array given to the kernel, never a shell line, so a key cannot inject commands. The
 * script runs in its own process group, which is killed as a whole on timeout and on shutdown,
 * so its children do not outlive it. Its output goes to the log. A task with a NUL character in
 * what the script would get is parked at once: no process can be given it, however often retried.
 *
 * `delete` runs only on the evidence the replicate action needs to delete a backup object (see
 * {@link DeletionCheck}): a delete event for an object the source still has — stale, reordered
 * or forged — runs nothing.
 */
export function createScriptAction(options: ScriptActionOptions): TaskAction {
  return async (task, { signal, logger }) => {
    const verb = VERBS[task.kind];
    if (verb === undefined) {
      logger.info('event kind has no script verb; nothing run', { eventName: task.eventName });
      return { outcome: 'ignored' };
    }
    // Before the deletion check: a task the script can never run must not use a delete grant.
    assertPassable(options.script, task, verb);
    if (verb === 'delete') {
      const context = { bucket: task.bucket, key: task.key, messageId: task.id };
      const verdict = await options.deletionCheck(task, signal, context);
      if (!verdict.proceed) {
        logger.info(NOT_RUN[verdict.reason]);
        return { outcome: verdict.reason === 'held' ? 'held' : 'ignored' };
      }
    }
    const run = await runScript(options, task, verb, signal);
    const meta = { verb, exitCode: run.exitCode, signal: run.signal, durationMs: run.durationMs };
    const output = { stdout: run.stdout, stderr: run.stderr };
    if (run.timedOut) {
      logger.warn('script timed out', { ...meta, ...output });
      throw new TransientError(
        'RELAY_SCRIPT_TIMEOUT',
        `${options.script} ${verb} ran longer than ${options.timeoutMs} ms and was killed`,
        { context: { bucket: task.bucket, key: task.key, messageId: task.id } },
      );
    }
    if (run.exitCode !== 0) {
      signal.throwIfAborted();
      logger.warn('script failed', { ...meta, ...output });
      throw new TransientError(
        'RELAY_SCRIPT_FAILED',
        `${options.script} ${verb} ${run.spawnError === undefined ? `exited with ${run.exitCode ?? run.signal}` : `could not start: ${run.spawnError.message}`}: ${lastLine(run.stderr)}`,
        {
          context: { bucket: task.bucket, key: task.key, messageId: task.id },
          cause: run.spawnError,
        },
      );
    }
    logger.info('script succeeded', { ...meta, ...output });
    return { outcome: 'executed' };
  };
}

/**
 * Thrown as {@link PermanentError} `RELAY_SCRIPT_NUL_IN_TASK` when a value the script would get
 * (as an argument or an `S3RELAY_*` variable) holds a NUL, which execve cannot pass: S3 allows
 * one in a key, and the event parsers keep it.
 */
function assertPassable(script: string, task: Task, verb: 'copy' | 'delete'): void {
  const unpassable = Object.entries(taskVariables(task, verb))
    .filter(([, value]) => value.includes('\0'))
    // The key is an argument too; the other fields reach the script only as these variables.
    .map(([name, value]) => `${name === 'S3RELAY_KEY' ? 'key' : name} ${JSON.stringify(value)}`);
  if (unpassable.length === 0) return;
  throw new PermanentError(
    'RELAY_SCRIPT_NUL_IN_TASK',
    `the task's ${unpassable.join(' and ')} holds a NUL character, which no program's arguments ` +
      `or environment can carry: ${script} can never run for it. Copy or delete that object of ` +
      `bucket ${task.bucket} by other means (ACTION=replicate handles it), then s3relay dlq drop --id ${task.id}`,
    { context: { bucket: task.bucket, key: task.key, messageId: task.id } },
  );
}

interface ScriptRun {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly spawnError: Error | undefined;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

function runScript(
  options: ScriptActionOptions,
  task: Task,
  verb: 'copy' | 'delete',
  abortSignal: AbortSignal,
): Promise<ScriptRun> {
  const startedAt = performance.now();
  return new Promise<ScriptRun>((resolve) => {
    let child: ChildProcessByStdio<null, Readable, Readable>;
    try {
      child = spawn(options.script, [task.bucket, task.key, verb], {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: scriptEnvironment(options, task, verb),
      });
    } catch (err) {
      // Node throws rather than emits the rarer failures of the system call (not ENOENT,
      // EACCES, EAGAIN, EMFILE or ENFILE).
      resolve({
        exitCode: null,
        signal: null,
        timedOut: false,
        spawnError: err instanceof Error ? err : new Error(String(err)),
        stdout: '',
        stderr: '',
        durationMs: 0,
      });
      return;
    }
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let spawnError: Error | undefined;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout = keepTail(stdout + chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = keepTail(stderr + chunk);
    });
    const killGroup = (signal: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // The group is already gone.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGKILL');
    }, options.timeoutMs);
    const onAbort = () => {
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), TERMINATE_GRACE_MS).unref();
    };
    abortSignal.addEventListener('abort', onAbort, { once: true });
    let finished = false;
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(closeTimer);
      abortSignal.removeEventListener('abort', onAbort);
      resolve({
        exitCode,
        signal,
        timedOut,
        spawnError,
        stdout: stdout.trim(),
        stderr: stderr.trim(),
        durationMs: Math.round(performance.now() - startedAt),
      });
    };
    let closeTimer: NodeJS.Timeout | undefined;
    child.once('error', (err) => {
      spawnError = err;
      finish(null, null);
    });
    child.once('close', (code, signal) => finish(code, signal));
    // 'close' waits for the pipes, which a grandchild that left the group may hold open: give
    // the last output a moment after 'exit', then stop waiting for it.
    child.once('exit', () => {
      closeTimer = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish(child.exitCode, child.signalCode);
      }, CLOSE_GRACE_MS);
    });
  });
}

/**
 * The task as variables, for scripts that would rather not parse their arguments. A field the
 * event did not carry is left unset.
 */
export function taskVariables(task: Task, verb: 'copy' | 'delete'): Record<string, string> {
  const optional = {
    S3RELAY_SIZE: task.size === null ? undefined : String(task.size),
    S3RELAY_ETAG: task.eTag,
    S3RELAY_VERSION_ID: task.versionId,
    S3RELAY_SEQUENCER: task.sequencer,
    S3RELAY_EVENT_TIME: task.eventTime,
  };
  return {
    S3RELAY_BUCKET: task.bucket,
    S3RELAY_KEY: task.key,
    S3RELAY_VERB: verb,
    S3RELAY_EVENT: task.eventName,
    S3RELAY_ORIGIN: task.origin,
    S3RELAY_TASK_ID: task.id,
    ...Object.fromEntries(
      Object.entries(optional).filter(
        (entry): entry is [string, string] => typeof entry[1] === 'string',
      ),
    ),
  };
}

function scriptEnvironment(
  options: ScriptActionOptions,
  task: Task,
  verb: 'copy' | 'delete',
): Record<string, string> {
  const passed: Record<string, string> = {};
  for (const name of [...SCRIPT_BASE_ENV, ...options.passEnv]) {
    const value = options.environment[name];
    if (value !== undefined) passed[name] = value;
  }
  return { ...passed, ...taskVariables(task, verb) };
}

function keepTail(text: string): string {
  return text.length <= MAX_OUTPUT_CHARS ? text : text.slice(-MAX_OUTPUT_CHARS);
}

function lastLine(text: string): string {
  return text.split('\n').at(-1)?.slice(0, 500) ?? '';
}
